from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from beamtime.core.access import active_experiment_for, ecc_server_for
from beamtime.daq import actions, control
from beamtime.daq.actions import ActionRefused
from beamtime.daq.easy_setup import EasySetupForm, easy_setup
from beamtime.daq.status import status


def status_page(request):
    try:
        experiment = active_experiment_for(request.user)
    except Http404:
        return render(request, "daq/no_experiment.html", status=200)
    return render(
        request, "daq/status.html", {"status": status(experiment), "actions": actions.ACTIONS}
    )


def panels(request, notice: str = ""):
    """The live part of the status page, polled by htmx every two seconds."""
    experiment = active_experiment_for(request.user)
    return render(
        request,
        "daq/_panels.html",
        {"status": status(experiment), "notice": notice, "actions": actions.ACTIONS},
    )


@require_POST
def global_action(request, action):
    try:
        actions.global_action(active_experiment_for(request.user), action, request.user)
    except ActionRefused as exc:
        return panels(request, notice=str(exc))
    return panels(request)


@require_POST
def server_action(request, pk, action):
    try:
        actions.server_action(ecc_server_for(request.user, pk), action)
    except ActionRefused as exc:
        return panels(request, notice=str(exc))
    return panels(request)


@require_POST
def clear_log(request):
    active_experiment_for(request.user).log_entries.all().delete()
    return panels(request)


def choose_config(request, pk):
    server = ecc_server_for(request.user, pk)
    error = ""
    if request.method == "POST":
        try:
            actions.choose_config(server, request.POST.get("config", ""))
            return redirect("daq:status")
        except ActionRefused as exc:
            error = str(exc)
    configs = (
        control.refresh_configs(server) if request.GET.get("refresh") else server.configs.all()
    )
    return render(
        request, "daq/choose_config.html", {"server": server, "configs": configs, "error": error}
    )


def easy_setup_page(request):
    experiment = active_experiment_for(request.user)
    form = EasySetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if experiment.is_running:
            form.add_error(None, "a run is in progress: stop it before replacing the set-up")
        else:
            easy_setup(experiment, form.cleaned_data)
            return redirect("daq:status")
    return render(request, "daq/easy_setup.html", {"form": form, "experiment": experiment})
