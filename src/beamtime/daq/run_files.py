"""A filed run's files, per data router, with their sizes; and whether a reduction instrument
can read them (only then does the run offer *Reduce*).

The reduction's instruments read NICE NeXus/HDF5 files (``reduction/instruments/refl/nexus``);
the GET electronics write ``.graw`` files, which none of them reads.
"""

import posixpath
import re
from dataclasses import dataclass, field

from beamtime.daq.models import RunMetadata
from beamtime.daq.safety import staging_of
from beamtime.daq.workers import UnsafePath, WorkerError, worker_for

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
    """What each router filed for ``run`` (STAGING/EXPERIMENT/run_NNNN/ on its host)."""
    found = []
    experiment = run.experiment
    for router in experiment.data_routers.exclude(staging_directory="").order_by("name"):
        listing = RouterFiles(
            router.name, "/".join([experiment.name, router.name, run_folder(run)])
        )
        try:
            folder = posixpath.join(staging_of(router), experiment.name, run_folder(run))
            with worker_for(router.ip_address) as worker:
                entries = worker.entries(folder)
        except UnsafePath as exc:
            listing.error = str(exc)
        except WorkerError:
            listing.error = "no files filed here (yet), or the router cannot be reached"
        else:
            listing.files = sorted((n, s) for n, s in entries.items() if s is not None)
        found.append(listing)
    return found
