"""Numbered runs: the rules for starting and stopping one, and the record of what the
electronics were configured with when it started."""

import hashlib
import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from beamtime.configs import store
from beamtime.configs.models import Change, Instrument
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import Experiment, RunMetadata
from beamtime.daq.states import overall_state
from beamtime.daq.workers import WorkerError, worker_for

log = logging.getLogger("beamtime.daq")
STEPS = ("describe", "prepare", "configure")
XCFG_MAX_BYTES = 4 * 1024 * 1024
CONFIG_NAME = re.compile(r"[\w+-][\w.+-]*")  # a file name part, never a path


class RunRefused(Exception):
    pass


def start_run(experiment: Experiment, user=None) -> RunMetadata:
    """Record a new run with the next number, if every ECC server is Ready and every data
    router clean; the caller then sends Start to the servers (the run is *starting* until
    every one records). Numbers are never skipped or reused, not even by an aborted run:
    the experiment row is locked while the number is taken."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.is_running:
            raise RunRefused(f"{experiment.latest_run} is still running: stop it first")
        servers = list(experiment.ecc_servers.select_related("selected_config"))
        state, name = overall_state(servers)
        if state != State.READY:
            raise RunRefused(f"every ECC server must be Ready to start a run; the system is {name}")
        routers = list(experiment.data_routers.all())
        for refused, why in [
            ([r for r in routers if not r.staging_directory], "have no staging folder (Set-up)"),
            ([r for r in routers if not r.is_online], "are offline"),
            (
                [r for r in routers if not r.staging_directory_is_clean],
                "are not clean yet (the last run's files are moving)",
            ),
        ]:
            if refused:
                names = ", ".join(r.name for r in refused)
                raise RunRefused(f"data routers {why}: {names}")
        now = timezone.now()
        number = experiment.next_run_number()
        return RunMetadata.objects.create(
            experiment=experiment,
            run_number=number,
            start_datetime=now,
            configs={s.name: str(s.selected_config) for s in servers},
            config_change=archive_configs(experiment, servers, now, number, user),
        )


def stop_run(experiment: Experiment) -> RunMetadata:
    """Close the current run; the caller then sends Stop and has the files organized."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        run = experiment.latest_run
        if run is None or run.stop_datetime is not None:
            raise RunRefused("no run is in progress")
        run.stop_datetime = timezone.now()
        run.state = RunMetadata.STOPPED
        run.save(update_fields=["stop_datetime", "state"])
        experiment.data_routers.update(staging_directory_is_clean=False)
        return run


def ecc_instrument(experiment: Experiment) -> Instrument:
    """The experiment's own archive of ECC configurations (it follows the experiment's
    permissions, see core.access.instruments_for_user)."""
    linked = (
        Experiment.objects.filter(pk=experiment.pk)
        .values_list("config_instrument", flat=True)
        .first()
    )
    if linked:
        return Instrument.objects.get(pk=linked)
    name = f"ecc-{slugify(experiment.name)}"[:50]
    if Instrument.objects.filter(name=name).exists():  # another experiment's slug: keep apart
        name = f"ecc-{experiment.pk}-{slugify(experiment.name)}"[:50]
    instrument = Instrument.objects.create(
        name=name,
        title=f"ECC configurations of {experiment.name}",
        description="The configuration set each ECC server had selected when a run started.",
        timezone=settings.TIME_ZONE,
        is_archive=True,
    )
    Experiment.objects.filter(pk=experiment.pk).update(config_instrument=instrument)
    experiment.config_instrument = instrument
    return instrument


def archive_configs(experiment, servers, when, number: int, user) -> Change | None:
    """Keep the servers' selected configurations in the configuration history; return the
    change valid at ``when`` (a new one, or the last one when nothing changed)."""
    instrument = ecc_instrument(experiment)
    state = {
        s.name: {
            "host": f"{s.ip_address}:{s.port}",
            "describe": s.selected_config.describe,
            "prepare": s.selected_config.prepare,
            "configure": s.selected_config.configure,
            **xcfg_contents(s),
        }
        for s in servers
    }
    try:
        change = store.apply_change(
            instrument,
            state,
            valid_from=when,
            user=user,
            source="daq",
            reason=f"run {number} started",
            replace_all=True,
        )
    except store.ChangeRefused:  # a clock that went backwards: keep the run, link what was valid
        change = None
    return change or instrument.changes.order_by("-valid_from").first()


def xcfg_contents(server) -> dict:
    """The .xcfg files of ``server``'s selected set, read from the folder the facility names
    for its host (settings.DAQ_CONFIG_ROOTS): ``{step}_xcfg`` (the text) and
    ``{step}_sha256`` (of the bytes) per step. Nothing when the facility names no folder;
    ``xcfg_error`` (and None for the steps) when a file cannot be read — the run goes on."""
    roots = settings.DAQ_CONFIG_ROOTS
    host = server.ip_address.strip().lower()
    folders = [*roots.get(host, []), *roots.get("*", [])]
    if not folders:
        return {}
    found = {}
    try:
        with worker_for(host) as worker:
            for step in STEPS:
                name = getattr(server.selected_config, step)
                if not CONFIG_NAME.fullmatch(name):
                    raise WorkerError(f"{name!r} is not a configuration file name")
                data = read_first(worker, f"{step}-{name}.xcfg", folders)
                found[f"{step}_xcfg"] = data.decode(errors="replace")
                found[f"{step}_sha256"] = hashlib.sha256(data).hexdigest()
    except WorkerError as exc:
        log.warning("run configuration of %s not archived: %s", server.name, exc)
        found = {f"{step}_{part}": None for step in STEPS for part in ("xcfg", "sha256")}
        found["xcfg_error"] = "the .xcfg files could not be read"
    return found


def read_first(worker, filename: str, folders: list[str]) -> bytes:
    """``filename`` from the first of ``folders`` that holds it (resolved inside it)."""
    error = None
    for folder in folders:
        try:
            return worker.read_within(f"{folder}/{filename}", [folder], XCFG_MAX_BYTES)
        except WorkerError as exc:
            error = exc
    raise error


def activate_experiment(experiment: Experiment) -> None:
    """Make ``experiment`` the active one; refused while the active one is taking a run."""
    with transaction.atomic():
        current = Experiment.objects.select_for_update().filter(is_active=True).first()
        if current and current != experiment and current.is_running:
            raise RunRefused(f"{current.name} is taking {current.latest_run}: stop it first")
        Experiment.objects.filter(is_active=True).update(is_active=False)
        Experiment.objects.filter(pk=experiment.pk).update(is_active=True)
