"""DAQ work (routed to the ``daq`` queue in settings): thin wrappers around server_control.py,
router_control.py and transitions.py.

Talking to ECC servers is waiting on the network, so one task serves all servers at once
from a thread pool: fifty servers taking half a second each are done in about half a
second, whatever the number of worker processes.
"""

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from beamtime.daq import router_control, server_control, transitions
from beamtime.daq.ecc.protocol import State
from beamtime.daq.fanout import in_parallel
from beamtime.daq.models import DataRouter, ECCServer, Experiment


def servers(pks: list[int]) -> list[ECCServer]:
    found = server_control.with_links(ECCServer.objects.all()).in_bulk(pks)
    return [found[pk] for pk in pks if pk in found]


@shared_task
def refresh_state(server_pks: list[int]) -> int:
    """Ask these servers for their state, all at once."""
    in_parallel(servers(server_pks), server_control.refresh_state)
    return len(server_pks)


@shared_task
def refresh_state_all() -> int:
    """Refresh every server of the active experiment (run by beat every few seconds), unless
    a transition is under way: its task follows every server then, and a second poller would
    only race it with older answers."""
    busy = Q(experiment__transition_started_at__gte=timezone.now() - transitions.claim_ttl())
    servers = ECCServer.objects.filter(experiment__is_active=True).exclude(
        ~Q(experiment__transition="") & busy
    )
    return refresh_state(list(servers.values_list("pk", flat=True)))


@shared_task
def refresh_configs(server_pk: int) -> int:
    return len(server_control.refresh_configs(ECCServer.objects.get(pk=server_pk)))


@shared_task
def refresh_configs_idle() -> int:
    """Fetch again the configuration lists of the active experiment's servers that are Idle
    and online (run by beat every DAQ_CONFIG_REFRESH_SECONDS): files are edited on the ECC
    hosts between runs. Nothing is asked while a transition is under way or a run records."""
    experiment = Experiment.objects.filter(is_active=True).first()
    if experiment is None or experiment.is_running:
        return 0
    claimed = experiment.transition_started_at
    if experiment.transition and claimed and claimed >= timezone.now() - transitions.claim_ttl():
        return 0
    idle = list(
        experiment.ecc_servers.filter(state=State.IDLE, is_online=True, is_transitioning=False)
    )
    in_parallel(idle, server_control.refresh_configs)
    return len(idle)


@shared_task
def change_state(server_pks: list[int], target: int) -> list[bool]:
    """Take each server one step to ``target``, all at once; True where it got there."""
    return in_parallel(
        servers(server_pks), lambda server: server_control.change_state(server, target)
    )


@shared_task
def check_routers() -> int:
    """Check every data router of the active experiment (run by beat)."""
    routers = list(DataRouter.objects.filter(experiment__is_active=True))
    in_parallel(routers, router_control.check_router)
    return len(routers)


# Filing is idempotent, so a worker killed halfway simply has the task delivered again.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def organize_files(router_pks: list[int], experiment_name: str, run_number: int) -> list[bool]:
    """After a run stops: file its data on every router's host, all at once."""
    routers = list(DataRouter.objects.filter(pk__in=router_pks))
    return in_parallel(
        routers, lambda r: router_control.organize_files(r, experiment_name, run_number)
    )


@shared_task
def enforce_run_limits() -> str:
    """Stop (and restart) the active experiment's run at its limit (run by beat)."""
    experiment = Experiment.objects.filter(is_active=True).first()
    return transitions.enforce_run_limit(experiment) if experiment else ""


@shared_task
def retry_filing() -> int:
    """File the runs whose filing failed, when their next try is due (run by beat)."""
    routers = list(
        DataRouter.objects.filter(
            filing_run__isnull=False, filing_next_try__isnull=False
        ).select_related("experiment")
    )
    in_parallel(routers, router_control.retry_filing)
    return len(routers)


@shared_task
def transition(experiment_pk: int, claim: str, kind: str, argument=None):
    """Carry out a claimed transition (actions.py), then release the claim.

    ``kind``: "step" (every server to the state ``argument``), "start" (the run ``argument``),
    "stop" (the run number ``argument``, or None), "server" ((server pk, target state)).
    """
    try:
        if kind == "step":
            return transitions.step_all(experiment_pk, argument)
        if kind == "start":
            return transitions.start_all(experiment_pk, argument)
        if kind == "stop":
            return transitions.stop_all(experiment_pk, argument)
        if kind == "server":
            pk, target = argument
            return in_parallel(servers([pk]), lambda s: server_control.change_state(s, target))
        raise ValueError(f"unknown transition kind {kind!r}")
    finally:
        transitions.release(experiment_pk, claim)
