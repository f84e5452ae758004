"""One helper per object type: the object the user may see, or 404."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from beamtime.core.models import ApiKey


def api_key_for_user(user, key_id: int) -> ApiKey:
    return get_object_or_404(ApiKey, pk=key_id, user=user)


def instruments_for_user(user):
    """Every signed-in user may read the configuration history of the facility's instruments;
    an experiment's archive of ECC configurations only its members, coordinators and staff
    (staff alone once the experiment is deleted)."""
    from django.db.models import Q

    from beamtime.configs.models import Instrument

    if user.is_staff:
        return Instrument.objects.all()
    return Instrument.objects.filter(
        Q(is_archive=False, daq_experiment__isnull=True)
        | Q(daq_experiment__in=experiments_for_user(user))
    )


def instrument_for_user(user, name: str):
    return get_object_or_404(instruments_for_user(user), name=name)


def experiments_for_user(user):
    """The DAQ experiments ``user`` may see and control (their run files too): those they are
    a member or a coordinator of; every one for staff."""
    from django.db.models import Q

    from beamtime.daq.models import Experiment

    if user.is_staff:
        return Experiment.objects.all()
    return Experiment.objects.filter(Q(members=user) | Q(coordinators=user)).distinct()


def active_experiment_for(user):
    """The active experiment, if ``user`` is one of its members or staff; else 404.

    Only they may see and control the DAQ, so to everyone else it does not exist.
    """
    from beamtime.daq.models import Experiment

    experiment = Experiment.objects.filter(is_active=True).first()
    if experiment is None or not experiment.is_member(user):
        raise Http404("no active experiment of yours")
    return experiment


def ecc_server_for(user, pk: int):
    from beamtime.daq.models import ECCServer

    return get_object_or_404(
        ECCServer.objects.select_related("selected_config"),
        pk=pk,
        experiment=active_experiment_for(user),
    )


def observable_for(user, pk: int):
    from beamtime.daq.models import Observable

    return get_object_or_404(Observable, pk=pk, experiment=active_experiment_for(user))


def dataset_for(user, pk: int):
    from beamtime.fitting.models import Dataset

    return get_object_or_404(Dataset, pk=pk, owner=user)


def saved_model_for(user, pk: int):
    from beamtime.fitting.models import SavedModel

    return get_object_or_404(SavedModel, pk=pk, owner=user)


def fit_job_for(user, pk: int):
    from beamtime.fitting.models import FitJob

    return get_object_or_404(FitJob.objects.select_related("dataset"), pk=pk, owner=user)
