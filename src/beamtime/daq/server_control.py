"""One ECC server at a time: ask its state and configuration list, take it one transition
further, stop it whatever happens — and keep the database truthful.

Every function here does one step and writes what it learned to the server's row with a
narrow UPDATE (fanout.save), so a user changing the selected configuration meanwhile is not
overwritten. Celery tasks (tasks.py) and the global transitions (transitions.py) call them.
"""

import time

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from beamtime.daq import alarms
from beamtime.daq.ecc.client import EccClient, EccError, EccUnreachable
from beamtime.daq.ecc.protocol import State
from beamtime.daq.fanout import Saves, log_error, save
from beamtime.daq.models import STATE_NAMES, ConfigId, DataSource, ECCServer
from beamtime.daq.safety import host_allowed

# Seconds between state checks while a transition runs: POLL at first, a quarter of the time
# waited so far later on, up to POLL_MAX (two hundred servers configuring for a minute are
# asked 400 times a second, not 1000).
POLL, POLL_MAX = 0.2, 0.5


def with_links(servers: QuerySet) -> QuerySet:
    """ECC servers with what a transition reads besides: configuration and data links."""
    return servers.select_related("selected_config").prefetch_related(
        Prefetch("data_sources", queryset=DataSource.objects.select_related("data_router"))
    )


def client_for(server: ECCServer) -> EccClient:
    """A client for the server, if it is on a host the facility allows (checked on every use:
    the list may have changed since the server was set up)."""
    if not host_allowed(server.ip_address):
        raise EccError(
            f"{server.ip_address} is not a host the facility allows (BEAMTIME_DAQ_HOSTS)"
        )
    return EccClient(
        server.url, settings.DAQ_ECC_TIMEOUT, settings.DAQ_ECC_CONNECT_TIMEOUT, server.name
    )


def target_now(server: ECCServer) -> int | None:
    """The state last asked of the server: the row's, unless asked here and not yet written
    (another process may have asked since this one read the row)."""
    saves = getattr(Saves.current, "saves", None)
    if saves is not None and saves.pending(server.pk, "target_state"):
        return server.target_state
    return ECCServer.objects.filter(pk=server.pk).values_list("target_state", flat=True).first()


def last_seen_offline(server: ECCServer) -> bool:
    """True if the log's last word about the server, written or not yet, is that it went
    offline."""
    saves = getattr(Saves.current, "saves", None)
    pending = saves and saves.last_word(
        server.experiment_id, server.name, ("went offline", "back online")
    )
    if pending:
        return pending.startswith("went offline")
    return server.last_seen_offline()


def went_offline(server: ECCServer, exc: EccUnreachable) -> None:
    """The server did not answer: mark it offline; log it and raise the alarm once."""
    if server.is_online:
        log_error(server, f"went offline: {exc}")
        alarms.raise_alarm(
            server.experiment_id,
            f"offline:{server.name}",
            f"ECC server {server.name} is offline",
        )
    save(server, is_online=False, is_transitioning=False)


def refresh_state(server: ECCServer, client: EccClient | None = None) -> ECCServer:
    """Ask the ECC server for its state and keep the row truthful. Going offline and coming
    back are logged once each; an error clears itself when the server answers, done with its
    transition, in the state the DAQ last asked for (``target_state``)."""
    try:
        status = (client or client_for(server)).status()
    except EccUnreachable as exc:
        went_offline(server, exc)
        return server
    except EccError as exc:
        if server.error_message != str(exc):  # logged once, not at every poll
            log_error(server, str(exc))
        save(server, error_message=str(exc))
        return server
    state, fields = int(status.state), {}
    if not server.is_online:
        alarms.clear_alarm(server.experiment_id, f"offline:{server.name}")
        if last_seen_offline(server):
            log_error(server, f"back online, {STATE_NAMES[state]}")
    if not status.transitioning:
        expected = server.target_state
        if expected is not None and state != expected:  # asked for since this row was read?
            expected = server.target_state = target_now(server)
        if expected is None or state == expected:
            fields["error_message"] = ""
        elif not server.error_message or state != server.state:  # new news: say it
            message = f"is {STATE_NAMES[state]}, expected {STATE_NAMES[expected]}"
            log_error(server, message)
            fields["error_message"] = message
    # The list of configuration sets changes while a server is Idle (files edited): fetch it
    # when a server answers Idle after being elsewhere, offline or new.
    fetch = (
        state == State.IDLE
        and not status.transitioning
        and (server.state != State.IDLE or not server.is_online)
    )
    save(server, is_online=True, state=state, is_transitioning=status.transitioning, **fields)
    if fetch:
        refresh_configs(server)
    return server


def refresh_configs(server: ECCServer) -> list[ConfigId]:
    """Make the database's configuration sets those the ECC server offers now; nothing is
    written when the list is the same (``last_fetched``: when a set was first offered)."""
    try:
        offered = {(c.describe, c.prepare, c.configure) for c in client_for(server).config_ids()}
    except EccError as exc:
        log_error(server, f"cannot list configurations: {exc}")
        return list(server.configs.all())
    known = {(c.describe, c.prepare, c.configure): c.pk for c in server.configs.all()}
    gone = [pk for key, pk in known.items() if key not in offered]
    new = [
        ConfigId(ecc_server=server, describe=d, prepare=p, configure=c)
        for d, p, c in sorted(offered - known.keys())
    ]
    if gone or new:
        with transaction.atomic():
            ConfigId.objects.filter(pk__in=gone).delete()
            ConfigId.objects.bulk_create(new, ignore_conflicts=True)  # another fetch raced
    return list(server.configs.all())


def change_state(server: ECCServer, target: int, follow_for: float | None = None) -> bool:
    """Request the one transition to ``target`` and follow it until it is done.

    Return True when the server reached ``target``. A failure (refused, unreachable, not
    finished within ``follow_for`` seconds) is written to the server and the log.
    """
    follow_for = settings.DAQ_TRANSITION_TIMEOUT if follow_for is None else follow_for
    config = server.selected_config
    if config is None:
        return fail(server, f"no configuration selected for {server.name}")
    save(server, target_state=target)  # from now on, anything else is an error
    try:
        client = client_for(server)
        client.step(State(server.state), State(target), config.as_ecc(), server.data_links())
    except ValueError as exc:
        return fail(server, str(exc))
    except EccUnreachable as exc:
        save(server, is_online=False)
        return fail(server, str(exc))
    except EccError as exc:
        return fail(server, str(exc))
    save(server, is_transitioning=True, error_message="", is_online=True)
    return follow(server, client, target, follow_for)


def follow(server: ECCServer, client: EccClient, target: int, follow_for: float) -> bool:
    """Poll a server that accepted the transition to ``target`` until it is done; True when
    it got there, else the failure is written to the server and the log.

    The first look is after POLL, not at once: a transition just accepted is under way, and
    asking two hundred servers so costs CPU the transitions' followers wait for."""
    started = time.monotonic()
    while time.monotonic() < started + follow_for:
        time.sleep(min(POLL_MAX, max(POLL, (time.monotonic() - started) / 4)))
        refresh_state(server, client)
        if not server.is_transitioning:
            if server.state == target:
                return True
            return fail(server, f"ended in {server.state_name} instead of {STATE_NAMES[target]}")
    return fail(
        server, f"the transition to {STATE_NAMES[target]} did not finish within {follow_for:g} s"
    )


def fail(server: ECCServer, message: str) -> bool:
    save(server, error_message=message)
    log_error(server, message)
    return False


def stop_server(server: ECCServer, wait_for: float | None = None) -> bool:
    """Take the server out of Running, whatever else is going on; True if it does not run
    afterwards. A server the database shows Running and online is sent Stop straight away
    (send_stop); any other is first asked for its state. A transition under way (a Start)
    is waited for first; a server that does not answer is logged as not stopped."""
    wait_for = settings.DAQ_TRANSITION_TIMEOUT if wait_for is None else wait_for
    deadline = time.monotonic() + wait_for
    known_running = server.state == State.RUNNING and not server.is_transitioning
    if known_running and server.is_online and server.selected_config is not None:
        stopped = send_stop(server, wait_for)
        if stopped is not None:
            return stopped
    else:
        refresh_state(server)
    while server.is_online and server.is_transitioning and time.monotonic() < deadline:
        time.sleep(POLL)
        refresh_state(server)
    if not server.is_online:
        return not_reached(server)
    if server.state != State.RUNNING:
        if server.target_state == State.RUNNING:  # not wanted running any more: Ready is right
            if server.state == State.READY and not server.is_transitioning:
                save(server, target_state=State.READY, error_message="")
            else:
                save(server, target_state=State.READY)
        return not server.is_transitioning
    return change_state(server, State.READY)


def send_stop(server: ECCServer, follow_for: float) -> bool | None:
    """Send Stop without asking for the state first (two hundred servers stopping at once
    spend a call less each): the answer is the truth. True when the server got to Ready,
    False when it could not be stopped (unreachable, or refused while Running — logged);
    None when it refused because it was elsewhere: its state, just read, tells what to do."""
    try:
        client = client_for(server)
    except EccError:
        refresh_state(server)  # the usual way reports it
        return None
    wanted = server.target_state
    save(server, target_state=State.READY)  # from now on, Running is an error
    try:
        client.step(
            State.RUNNING, State.READY, server.selected_config.as_ecc(), server.data_links()
        )
    except ValueError as exc:
        return fail(server, str(exc))
    except EccUnreachable as exc:
        save(server, target_state=wanted)  # as if not asked: stopping it is left to people
        went_offline(server, exc)
        return not_reached(server)
    except EccError as exc:
        save(server, target_state=wanted)  # as the usual way finds it
        refresh_state(server, client)
        if server.is_online and server.state == State.RUNNING and not server.is_transitioning:
            save(server, target_state=State.READY)
            return fail(server, str(exc))  # refused while Running: not asked twice
        return None
    save(server, is_transitioning=True, error_message="")
    return follow(server, client, State.READY, follow_for)


def not_reached(server: ECCServer) -> bool:
    log_error(server, "not reached: it could not be stopped; stop it when it is back")
    return False
