"""Alarms: conditions that need a person (a server or router offline, a filing that failed).
Raised once per condition — a second raise while it lasts does nothing —, e-mailed to the
experiment's coordinators, shown on every page until acknowledged, cleared with the condition.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from beamtime.daq.models import Alarm

log = logging.getLogger("beamtime.daq")


def raise_alarm(experiment_id: int, key: str, message: str) -> Alarm | None:
    """The new alarm, or None if this condition has an active alarm already."""
    if Alarm.objects.filter(experiment_id=experiment_id, key=key, cleared_at=None).exists():
        return None
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(experiment_id=experiment_id, key=key, message=message)
    except IntegrityError:  # raised by another worker at the same moment
        return None
    transaction.on_commit(lambda: mail_coordinators(alarm))
    return alarm


def clear_alarm(experiment_id: int, key: str) -> int:
    return Alarm.objects.filter(experiment_id=experiment_id, key=key, cleared_at=None).update(
        cleared_at=timezone.now()
    )


def acknowledge(alarm: Alarm, user) -> None:
    Alarm.objects.filter(pk=alarm.pk, acknowledged_at=None).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )


def mail_coordinators(alarm: Alarm) -> None:
    experiment = alarm.experiment
    to = sorted({u.email for u in experiment.coordinators.all() if u.email})
    if not to:
        return
    try:
        send_mail(
            f"[Beamtime {experiment.name}] {alarm.message}",
            f"{alarm.message}\n\nRaised at {alarm.raised_at:%Y-%m-%d %H:%M:%S %Z}. It stays on "
            "the run-control pages until someone acknowledges it.\n",
            settings.DEFAULT_FROM_EMAIL,
            to,
        )
    except Exception:  # a mail server down must not stop run control
        log.exception("cannot e-mail alarm %s to %s", alarm.pk, ", ".join(to))


def banner(request) -> dict:
    """Context processor: the active alarms not yet acknowledged, of the experiments the user
    takes part in (staff: the active experiment's)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    alarms = Alarm.objects.filter(
        cleared_at=None, acknowledged_at=None, experiment__is_active=True
    ).select_related("experiment")
    if not user.is_staff:
        from django.db.models import Q

        alarms = alarms.filter(
            Q(experiment__members=user) | Q(experiment__coordinators=user)
        ).distinct()
    return {"daq_alarms": list(alarms[:10])}
