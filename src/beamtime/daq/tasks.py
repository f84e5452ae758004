"""DAQ work (routed to the ``daq`` queue in settings): thin wrappers around control.py."""

from celery import group, shared_task

from beamtime.daq import control
from beamtime.daq.models import ECCServer


@shared_task
def refresh_state(server_pk: int) -> dict:
    return control.refresh_state(ECCServer.objects.get(pk=server_pk)).to_dict()


@shared_task
def refresh_state_all() -> int:
    """Refresh every server of the active experiment in parallel (run by beat)."""
    pks = list(ECCServer.objects.filter(experiment__is_active=True).values_list("pk", flat=True))
    group(refresh_state.s(pk) for pk in pks).apply_async()
    return len(pks)


@shared_task
def refresh_configs(server_pk: int) -> int:
    return len(control.refresh_configs(ECCServer.objects.get(pk=server_pk)))


@shared_task
def change_state(server_pk: int, target: int) -> bool:
    return control.change_state(
        ECCServer.objects.select_related("selected_config").get(pk=server_pk), target
    )


def change_state_all(servers, target: int):
    """Fan the transition out to every server at once: one task each, in parallel."""
    return group(change_state.s(s.pk, target) for s in servers).apply_async()
