"""DAQ work (routed to the ``daq`` queue in settings): thin wrappers around control.py.

Talking to ECC servers is waiting on the network, so one task serves all servers at once
from a thread pool: fifty servers taking half a second each are done in about half a
second, whatever the number of worker processes.
"""

from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import connection

from beamtime.daq import control
from beamtime.daq.ecc.client import wsdl_client
from beamtime.daq.models import ECCServer

MAX_THREADS = 64


@worker_process_init.connect
def parse_the_wsdl_before_the_first_click(**kwargs):
    wsdl_client(settings.DAQ_ECC_TIMEOUT)


def for_each_server(pks: list[int], step) -> list:
    """Run ``step(server)`` for every server in parallel; results in the order of ``pks``."""

    def one(pk):
        try:
            return step(ECCServer.objects.select_related("selected_config").get(pk=pk))
        finally:
            connection.close()  # each thread has a connection of its own

    if not pks:
        return []
    with ThreadPoolExecutor(min(MAX_THREADS, len(pks))) as pool:
        return list(pool.map(one, pks))


@shared_task
def refresh_state_all() -> int:
    """Refresh every server of the active experiment (run by beat every few seconds)."""
    pks = list(ECCServer.objects.filter(experiment__is_active=True).values_list("pk", flat=True))
    for_each_server(pks, control.refresh_state)
    return len(pks)


@shared_task
def refresh_configs(server_pk: int) -> int:
    return len(control.refresh_configs(ECCServer.objects.get(pk=server_pk)))


@shared_task
def change_state(server_pks: list[int], target: int) -> list[bool]:
    """Take each server one step to ``target``, all at once; True where it got there."""
    return for_each_server(server_pks, lambda server: control.change_state(server, target))
