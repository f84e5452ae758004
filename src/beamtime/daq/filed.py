"""The run files the DAQ filed, for other apps: data reduction reads them through here.

A ``FiledFiles`` opens at most one connection per data router's host (SSH, or none for this
host) for as long as it is open, and lists each folder once: a reduction of a run's ten files
costs one SSH handshake, not twenty.
"""

import posixpath

from beamtime.daq.safety import staging_of
from beamtime.daq.workers import FileStat, Worker, WorkerError, worker_for

__all__ = ["FileStat", "FiledFiles", "WorkerError"]


class FiledFiles:
    """Folders and files under data routers' staging folders; use as a context manager."""

    def __init__(self):
        self._workers: dict[str, Worker] = {}
        self._listed: dict[tuple[str, str], dict[str, FileStat | None]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
        self._listed.clear()

    def _worker(self, router) -> Worker:
        host = router.ip_address
        if host not in self._workers:
            self._workers[host] = worker_for(host)
        return self._workers[host]

    def entries(self, router, folder: str) -> dict[str, FileStat | None]:
        """``folder`` (relative to the router's staging folder): name → size and modification
        time of each regular file, None for anything else."""
        path = posixpath.join(staging_of(router), folder)
        key = (router.ip_address, path)
        if key not in self._listed:
            self._listed[key] = self._worker(router).stats(path)
        return self._listed[key]

    def read(self, router, file: str, max_bytes: int) -> bytes:
        """The contents of ``file`` (relative to the router's staging folder)."""
        path = posixpath.join(staging_of(router), file)
        return self._worker(router).read_file(path, max_bytes)
