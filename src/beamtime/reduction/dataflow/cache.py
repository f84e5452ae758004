"""Where computed steps are kept. Wiping a cache loses nothing but time."""

import json
import os
import tempfile
import time
from pathlib import Path


class DiskCache:
    """One JSON file per step in a folder (the default: persists across restarts)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get_bundle(self, key: str):
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):  # absent, or damaged by a crash: compute it again
            return None

    def set_bundle(self, key: str, data) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)

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
        return json.loads(data)

    def set_bundle(self, key: str, data) -> None:
        text = json.dumps(data)
        with self.redis.pipeline() as pipe:
            pipe.set(self.prefix + key, text)
            pipe.zadd(self.lru, {key: time.time()})
            pipe.incrby(self.size, len(text))
            pipe.execute()
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
