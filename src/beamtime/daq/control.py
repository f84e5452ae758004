"""Talking to the ECC servers of an experiment and keeping the database truthful.

Every function here does one step and writes what it learned to the server's row with a
narrow UPDATE, so a user changing the selected configuration meanwhile is not overwritten.
Celery tasks (tasks.py) wrap them; tests call them directly.
"""

import logging
import threading
import time
import traceback
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from beamtime.daq import alarms
from beamtime.daq.ecc.client import EccClient, EccError, EccUnreachable
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import (
    ERROR,
    MIXED,
    STATE_NAMES,
    ConfigId,
    DataRouter,
    DataSource,
    ECCServer,
    Experiment,
    LogEntry,
)
from beamtime.daq.safety import host_allowed
from beamtime.daq.workers import WorkerError, worker_for

log = logging.getLogger("beamtime.daq")
# Seconds between state checks while a transition runs: POLL at first, a quarter of the time
# waited so far later on, up to POLL_MAX (two hundred servers configuring for a minute are
# asked 400 times a second, not 1000).
POLL, POLL_MAX = 0.2, 0.5
FLUSH = 0.1  # seconds between the writes of a fan-out's state changes (Saves)


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


def log_error(component: ECCServer | DataRouter, message: str, with_traceback=False) -> None:
    """An entry in the experiment's Log entries panel, from an ECC server or a data router.
    In a fan-out, the write is left to its Saves."""
    entry = LogEntry(
        experiment_id=component.experiment_id,
        source=component.name,
        message=message,
        traceback=traceback.format_exc() if with_traceback else "",
    )
    saves = getattr(Saves.current, "saves", None)
    if saves is None:
        entry.save()
    else:
        saves.log(entry)


class Saves:
    """The rows that the threads of one fan-out (transitions.in_parallel) change, and the
    log entries they make, written together every ``every`` seconds in one transaction by a
    thread of its own.

    Two hundred servers answering at once then cost a few commits instead of two hundred,
    each of which waits for SQLite's one write lock and a disk sync (about 16 ms here):
    twenty servers found offline by Stop all were a third of a second of "not reached".
    """

    current = threading.local()  # the Saves a fan-out's thread writes into, if any

    def __init__(self, every: float = FLUSH):
        self.every, self.rows, self.entries, self.lock = every, {}, [], threading.Lock()
        self.done = threading.Event()
        self.writer = threading.Thread(target=self.write_until_done, daemon=True)

    def add(self, pk: int, fields: dict) -> None:
        with self.lock:
            self.rows.setdefault(pk, {}).update(fields)

    def log(self, entry: LogEntry) -> None:
        with self.lock:
            self.entries.append(entry)

    def last_word(self, experiment_id: int, source: str, prefixes: tuple) -> str | None:
        """The last message not yet written from ``source`` that starts with one of
        ``prefixes``."""
        with self.lock:
            for entry in reversed(self.entries):
                mine = (entry.experiment_id, entry.source) == (experiment_id, source)
                if mine and entry.message.startswith(prefixes):
                    return entry.message
        return None

    def pending(self, pk: int, field: str) -> bool:
        with self.lock:
            return field in self.rows.get(pk, {})

    def write(self) -> None:
        with self.lock:
            rows, self.rows = self.rows, {}
            entries, self.entries = self.entries, []
        if not rows and not entries:
            return
        same = defaultdict(list)  # rows getting the same values: one UPDATE
        for pk, fields in rows.items():
            same[tuple(sorted(fields.items()))].append(pk)
        try:
            with transaction.atomic():
                for fields, pks in same.items():
                    ECCServer.objects.filter(pk__in=pks).update(**dict(fields))
                LogEntry.objects.bulk_create(entries)
        except Exception:
            log.exception(
                "cannot write the state of %d ECC servers and %d log entries; trying again",
                len(rows),
                len(entries),
            )
            with self.lock:  # keep them, under what came since
                for pk, fields in rows.items():
                    self.rows[pk] = {**fields, **self.rows.get(pk, {})}
                self.entries[:0] = entries

    def write_until_done(self) -> None:
        try:
            while not self.done.wait(self.every):
                self.write()
            self.write()
        finally:
            connection.close()

    def __enter__(self):
        self.writer.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.writer.join()


def save(server: ECCServer, **fields) -> None:
    """Write the fields that changed; polling writes nothing while nothing changes. In a
    fan-out, the write is left to its Saves."""
    changed = {name: value for name, value in fields.items() if getattr(server, name) != value}
    if not changed:
        return
    for name, value in changed.items():
        setattr(server, name, value)
    saves = getattr(Saves.current, "saves", None)
    if saves is None:
        ECCServer.objects.filter(pk=server.pk).update(**changed)
    else:
        saves.add(server.pk, changed)


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


def overall_state(servers) -> tuple[int | None, str]:
    """One state for all servers, ``Mixed`` when they differ, ``Error`` when one failed."""
    servers = list(servers)
    if not servers:
        return None, "No ECC servers"
    if any(s.error_message or not s.is_online for s in servers):
        return ERROR, "Error"
    states = {s.state for s in servers}
    if len(states) > 1:
        return MIXED, "Mixed"
    state = states.pop()
    return state, STATE_NAMES[state]


ACTIONS = {
    "describe": State.DESCRIBED,
    "prepare": State.PREPARED,
    "configure": State.READY,
    "start": State.RUNNING,
    "stop": State.READY,
}


def step_target(state: int, action: str) -> int:
    """The state an action (a button: describe … stop, or reset) leads to from ``state``."""
    if action == "reset":
        if state == State.IDLE:
            raise ValueError("the system is Idle already")
        return state - 1
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return ACTIONS[action]


def check_router(router: DataRouter) -> DataRouter:
    """Is the router's process running, is its staging folder free of run files?"""
    try:
        with worker_for(router.ip_address) as worker:
            online = worker.process_running(router.process_name)
            clean = (
                worker.staging_is_clean(router.staging_directory)
                if router.staging_directory
                else True
            )
            free = worker.free_fraction(router.staging_directory) if router.staging_directory else 1
    except WorkerError as exc:
        if router.is_online or router.last_checked is None:
            log_error(router, str(exc))
        online, clean, free = False, router.staging_directory_is_clean, None
    if free is not None and router.staging_directory and router.filing_run is None:
        alarm_left_over_files(router, clean)
    if router.filing_run is not None:
        clean = False  # a run waits to be filed: not clean, whatever the folder says now
    if free is not None:
        disk = f"disk:{router.name}"
        if free < settings.DAQ_STAGING_MIN_FREE:
            alarms.raise_alarm(
                router.experiment_id,
                disk,
                f"the staging disk of {router.name} is nearly full ({free:.0%} free)",
            )
        else:
            alarms.clear_alarm(router.experiment_id, disk)
    key = f"router-offline:{router.name}"
    if not online and (router.is_online or router.last_checked is None):
        alarms.raise_alarm(router.experiment_id, key, f"data router {router.name} is offline")
    elif online and not router.is_online:
        alarms.clear_alarm(router.experiment_id, key)
    now = timezone.now()
    DataRouter.objects.filter(pk=router.pk).update(
        is_online=online, staging_directory_is_clean=clean, last_checked=now
    )
    router.is_online, router.staging_directory_is_clean, router.last_checked = online, clean, now
    return router


def alarm_left_over_files(router: DataRouter, clean: bool) -> None:
    """Run files in the staging folder between runs, with no filing under way or waiting
    (a failed filing has its own alarm), block the next Start: alarm until they are gone.
    While a run records, or a transition (a Stop filing its run) is under way, they are
    expected; that is read after the folder was, so a Start begun meanwhile is seen."""
    key = f"dirty:{router.name}"
    if clean:
        alarms.clear_alarm(router.experiment_id, key)
        return
    experiment = Experiment.objects.filter(pk=router.experiment_id, transition="").first()
    if experiment is not None and not experiment.is_running:
        alarms.raise_alarm(
            router.experiment_id,
            key,
            f"run files wait in the staging folder of {router.name} with no run to file them "
            "under: Start is refused until they are moved",
        )


BACKOFF = [10, 20, 40, 80, 160, 300]  # seconds before retry 1, 2, …; then every 300 s


def backoff(attempts: int) -> int:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def organize_files(router: DataRouter, experiment_name: str, run_number: int) -> bool:
    """File the run's data into STAGING/EXPERIMENT/run_NNNN/ on the router's host; True when
    the staging folder is clean afterwards. Safe to repeat after a crash. A failure is kept
    on the router (run, attempts, error, next try) and retried with back-off by
    ``retry_filing`` until it succeeds."""
    rows = DataRouter.objects.filter(pk=router.pk)
    if not router.staging_directory:  # nowhere to look (set-up requires one now)
        rows.update(staging_directory_is_clean=True, filing_run=None)
        return True
    rows.update(filing_run=run_number, filing_next_try=None, staging_directory_is_clean=False)
    try:
        with worker_for(router.ip_address) as worker:
            result = worker.organize_run(router.staging_directory, experiment_name, run_number)
            clean = worker.staging_is_clean(router.staging_directory)
    except WorkerError as exc:
        attempts = (rows.values_list("filing_attempts", flat=True).first() or 0) + 1
        wait = backoff(attempts)
        rows.update(
            filing_attempts=attempts,
            filing_error=str(exc)[:300],
            filing_next_try=timezone.now() + timedelta(seconds=wait),
        )
        log_error(
            router, f"run {run_number:04d} not filed (attempt {attempts}, next in {wait} s): {exc}"
        )
        alarms.raise_alarm(
            router.experiment_id,
            f"filing:{router.name}",
            f"run {run_number} could not be filed on {router.name}; retrying",
        )
        return False
    for name, kept_as in result.renamed.items():
        log_error(
            router, f"run {run_number:04d}: {name} existed already; the new file is {kept_as}"
        )
    alarms.clear_alarm(router.experiment_id, f"filing:{router.name}")
    rows.update(
        staging_directory_is_clean=clean,
        filing_run=None,
        filing_attempts=0,
        filing_error="",
        filing_next_try=None,
    )
    return clean


def retry_filing(router: DataRouter, now=None) -> bool | None:
    """File the router's waiting run if its next try is due; None when nothing was due.
    The try is claimed with a conditional UPDATE, so two workers never file at once."""
    now = now or timezone.now()
    due = DataRouter.objects.filter(
        pk=router.pk, filing_run__isnull=False, filing_next_try__lte=now
    )
    if router.filing_next_try is None or not due.update(filing_next_try=None):
        return None
    return organize_files(router, router.experiment.name, router.filing_run)
