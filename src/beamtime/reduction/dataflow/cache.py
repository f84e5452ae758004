"""Where computed steps are kept. Wiping a cache loses nothing but time."""

import contextlib
import dataclasses
import fcntl
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from beamtime.reduction.dataflow.stored import decode, encode

log = logging.getLogger("beamtime.reduction")


class DiskCache:
    """One file per step in a folder (the default: persists across restarts), the least
    recently used removed beyond ``max_bytes`` (a file's modification time is its last use).

    Several processes share the folder (web and reduction workers), so the folder's total is
    kept in it, in the file ``.bytes``: a writer renames its step into place and adds what the
    folder grew by to that total while it holds an exclusive lock on the file (flock), so every
    write of every process is counted once, and the cap holds for all of them together. The
    writer that finds the total past the cap scans the folder, still holding the lock: the scan
    measures the true total (which corrects the count should a writer have been killed between
    its rename and its count), removes the least recently used steps down to 90 % of the cap,
    and removes any ``.tmp`` file that a writer which crashed left for more than an hour. A
    missing total (a new folder, or ``.bytes`` deleted) is measured by such a scan.
    """

    TOTAL = ".bytes"
    STALE_TMP_SECONDS = 3600  # a step is written in well under a second

    def __init__(self, folder: Path, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.step"

    def get_bundle(self, key: str):
        path = self._path(key)
        try:
            data = decode(path.read_bytes())
        except OSError:  # absent: compute it
            return None
        if data is None:  # damaged, or of an older format: compute it again
            return None
        with contextlib.suppress(OSError):  # removed meanwhile: the data are still good
            os.utime(path)  # used now
        return data

    def set_bundle(self, key: str, data) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        blob = encode(data)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        if self.max_bytes is None:
            os.replace(tmp, path)
            return
        total = os.open(self.folder / self.TOTAL, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(total, fcntl.LOCK_EX)  # released as the file closes
            counted = os.pread(total, 32, 0)
            replaced = _size(path)
            os.replace(tmp, path)
            if counted.isdigit():
                size = int(counted) + len(blob) - replaced
            else:
                size = sum(size for _, size, _ in self._files())
            if size > self.max_bytes:
                size = self._evict()
            os.ftruncate(total, 0)
            os.pwrite(total, str(size).encode(), 0)
        finally:
            os.close(total)

    def _files(self):
        """(path, bytes, last use) of every stored step (of any format: an older Beamtime's
        steps are never read, and go as the least recently used); a ``.tmp`` file older than
        STALE_TMP_SECONDS is removed on the way."""
        stale = time.time() - self.STALE_TMP_SECONDS
        for path in self.folder.glob("*/*"):
            try:
                info = path.stat()
                if path.suffix == ".tmp":  # being written, or left by a writer that crashed
                    if info.st_mtime < stale:
                        path.unlink()
                    continue
            except OSError:
                continue  # removed meanwhile
            yield path, info.st_size, info.st_mtime

    def _evict(self) -> int:
        """Remove the least recently used steps down to 90 % of the cap; the bytes left."""
        files = sorted(self._files(), key=lambda f: f[2])
        total = sum(size for _, size, _ in files)
        target = 0.9 * self.max_bytes
        for path, size, _ in files:
            if total <= target:
                break
            try:
                path.unlink()
            except OSError:
                continue  # removed meanwhile (by hand: writers remove only under the lock)
            total -= size
        return total

    def __contains__(self, key: str) -> bool:
        return self._path(key).exists()


class RedisCache:
    """Steps kept in Redis, shared by every web and worker process, least recently used
    evicted beyond ``max_bytes``.

    The LRU is kept here rather than by Redis' eviction policy, because the same Redis may
    also be the job queue's broker, whose keys must never be evicted: a sorted set holds each
    step's last use, and a counter the bytes stored.
    """

    def __init__(self, client, max_bytes: int = 256 * 2**20, prefix: str = "reduction:"):
        self.redis, self.max_bytes, self.prefix = client, max_bytes, prefix
        self.lru, self.size = f"{prefix}lru", f"{prefix}bytes"

    def get_bundle(self, key: str):
        data = self.redis.get(self.prefix + key)
        if data is None:
            return None
        self.redis.zadd(self.lru, {key: time.time()})
        return decode(data)  # None for an older format's step: computed again

    def set_bundle(self, key: str, data) -> None:
        blob = encode(data)
        with self.redis.pipeline() as pipe:
            # SET … GET: the value this replaces, atomically, so that the byte count grows
            # by the difference only (two processes storing the same step add it once).
            pipe.set(self.prefix + key, blob, get=True)
            pipe.zadd(self.lru, {key: time.time()})
            old, _ = pipe.execute()
        self.redis.incrby(self.size, len(blob) - (len(old) if old is not None else 0))
        self._evict()

    def _evict(self) -> None:
        while int(self.redis.get(self.size) or 0) > self.max_bytes:
            oldest = self.redis.zpopmin(self.lru)
            if not oldest:
                break
            key = oldest[0][0].decode() if isinstance(oldest[0][0], bytes) else oldest[0][0]
            removed = self.redis.getdel(self.prefix + key)
            if removed is not None:
                self.redis.decrby(self.size, len(removed))

    def __contains__(self, key: str) -> bool:
        return bool(self.redis.exists(self.prefix + key))


class WriteBehind:
    """A cache's reads, its writes held back until ``flush``: a calculation's result can be
    handed to whoever waits for it before its steps are written."""

    def __init__(self, cache):
        self.cache, self.held = cache, {}

    def get_bundle(self, key: str):
        return self.held[key] if key in self.held else self.cache.get_bundle(key)

    def set_bundle(self, key: str, data) -> None:
        self.held[key] = data

    def __contains__(self, key: str) -> bool:
        return key in self.held or key in self.cache

    def flush(self) -> None:
        """Write what is held (a step that cannot be written is only computed again)."""
        held, self.held = self.held, {}
        for key, data in held.items():
            try:
                self.cache.set_bundle(key, data)
            except Exception:
                log.exception("step %s could not be written to the cache", key)


class Recent:
    """The decoded results of the steps used last in this process, at most ``points`` points
    in all (the least recently used dropped first): a repeat finds its inputs here without
    reading and decoding them. Keys are content hashes, so what is here is never stale.
    Shared by the process' threads, and so are the results: their arrays are made
    read-only as they are kept, so that a step changing its inputs in place fails on its
    node rather than changing what later requests are given."""

    def __init__(self, points: int):
        self.limit, self.total = points, 0
        self.items: OrderedDict[str, tuple[dict, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self.lock:
            item = self.items.get(key)
            if item is None:
                return None
            self.items.move_to_end(key)
            return item[0]

    def put(self, key: str, outputs: dict, points: int) -> None:
        if points > self.limit // 4:  # a large result would push out everything else
            return
        for values in outputs.values():
            for value in values:
                _freeze(value)
        with self.lock:
            old = self.items.pop(key, None)
            self.total += points - (old[1] if old else 0)
            self.items[key] = (outputs, points)
            while self.total > self.limit:
                _, (_, dropped) = self.items.popitem(last=False)
                self.total -= dropped

    def __contains__(self, key: str) -> bool:
        return key in self.items


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _freeze(value) -> None:
    """Make the arrays a result holds (as its attributes) read-only."""
    names = (
        [f.name for f in dataclasses.fields(value)]
        if dataclasses.is_dataclass(value)
        else list(getattr(value, "__dict__", ()))
    )
    for name in names:
        flags = getattr(getattr(value, name, None), "flags", None)
        if flags is not None and hasattr(flags, "writeable"):
            flags.writeable = False
