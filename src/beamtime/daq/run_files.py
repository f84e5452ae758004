"""A filed run's files, per data router, with their sizes; and whether a reduction instrument
can read them (only then does the run offer *Reduce*).

The reduction's instruments read NICE NeXus/HDF5 files (``reduction/instruments/refl/nexus``);
the GET electronics write ``.graw`` files, which none of them reads.
"""

import posixpath
import re
from dataclasses import dataclass, field

from beamtime.daq.fanout import in_parallel
from beamtime.daq.models import RunMetadata
from beamtime.daq.safety import staging_of
from beamtime.daq.workers import Unreachable, UnsafePath, WorkerError, worker_for

# NeXus/HDF5 names as facilities write them: x.nxs, x.nxz, x.h5, x.hdf5, x.nxs.pbr (NCNR).
REDUCIBLE = re.compile(r".+\.(nxs|nxz|nx5|h5|hdf5)(\.[A-Za-z0-9]+)?", re.IGNORECASE)


@dataclass
class RouterFiles:
    router: str
    folder: str  # the run's folder as the reduction's "daq" source names it
    files: list[tuple[str, int]] = field(default_factory=list)  # name, bytes
    error: str = ""

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)

    @property
    def reducible(self) -> bool:
        return any(REDUCIBLE.fullmatch(name) for name, _ in self.files)


def run_folder(run: RunMetadata) -> str:
    return f"run_{run.run_number:04d}"


def run_files(run: RunMetadata) -> list[RouterFiles]:
    """What each router filed for ``run`` (STAGING/EXPERIMENT/run_NNNN/ on its host), asked of
    all routers at once: unreachable ones cost one timeout together, not one each."""
    experiment = run.experiment
    routers = list(experiment.data_routers.exclude(staging_directory="").order_by("name"))
    listings, folders = {}, {}
    for router in routers:  # checked here: the threads do not touch the database
        listings[router.pk] = RouterFiles(
            router.name, "/".join([experiment.name, router.name, run_folder(run)])
        )
        try:
            folders[router.pk] = posixpath.join(
                staging_of(router), experiment.name, run_folder(run)
            )
        except UnsafePath as exc:
            listings[router.pk].error = str(exc)

    def ask(router) -> None:
        if router.pk not in folders:
            return
        listing = listings[router.pk]
        listing.error = "cannot be listed"  # kept if anything unforeseen fails
        try:
            with worker_for(router.ip_address) as worker:
                entries = worker.entries(folders[router.pk])
        except Unreachable:
            listing.error = "the router's host cannot be reached"
            return
        except WorkerError:
            listing.error = "no files filed here (yet)"
            return
        listing.files = sorted((n, s) for n, s in entries.items() if s is not None)
        listing.error = ""

    in_parallel(routers, ask)
    return [listings[router.pk] for router in routers]
