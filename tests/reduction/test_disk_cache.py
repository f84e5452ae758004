"""The disk step cache's size cap, kept by several real processes writing into one folder,
and what a writer that crashed left behind."""

import os
import subprocess
import sys
import time
from pathlib import Path

import beamtime
from beamtime.reduction.dataflow.cache import DiskCache
from beamtime.reduction.dataflow.stored import encode

STEP = {"output": ["x" * 900]}

# A writer process: stores one step (so that it has seen the folder), says it is ready, waits
# for the go file, then stores COUNT more steps of its own.
WRITER = """
import sys, time
from pathlib import Path
from beamtime.reduction.dataflow.cache import DiskCache

folder, name, go, cap, count = sys.argv[1:]
cache = DiskCache(Path(folder), max_bytes=int(cap))
for n in range(1 + int(count)):
    cache.set_bundle(f"{n % 256:02x}{name}{n:061d}", {"output": ["x" * 900]})
    if n == 0:
        Path(f"{go}.{name}").touch()
        while not Path(go).exists():
            time.sleep(0.001)
"""


def stored_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*/*.step"))


def key(n: int) -> str:
    return f"{n:02d}" + "k" * 62


def test_the_disk_cache_keeps_to_its_cap_evicting_the_least_recently_used(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=1000)
    for n in range(30):  # 30 steps of ~90 bytes: more than twice the cap
        cache.set_bundle(key(n), {"output": ["x" * 40]})
        os.utime(cache._path(key(n)), (n, n))  # used in this order
        if n >= 1:
            assert cache.get_bundle(key(0)) is not None  # the first, in use
            os.utime(cache._path(key(0)), (n + 0.5, n + 0.5))
    assert stored_bytes(tmp_path) <= 1000
    assert key(0) in cache  # recently used: kept
    assert key(1) not in cache  # least recently used: gone
    assert key(29) in cache


def test_two_processes_writing_into_one_folder_keep_it_under_the_cap(tmp_path):
    folder, go, cap, step = tmp_path / "cache", tmp_path / "go", 20_000, len(encode(STEP))
    count = int(0.9 * cap / step)  # each alone stays under the cap; together they pass it
    env = {**os.environ, "PYTHONPATH": str(Path(beamtime.__file__).parents[1])}
    writers = {
        name: subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), name, str(go), str(cap), str(count)],
            env=env,
        )
        for name in "ab"
    }
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.{name}").exists() for name in writers):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers.values())
        time.sleep(0.01)
    go.touch()
    assert [w.wait(timeout=60) for w in writers.values()] == [0, 0]
    assert 0.8 * cap < stored_bytes(folder) <= cap + step
    assert int((folder / ".bytes").read_text()) == stored_bytes(folder)  # counted right


def test_an_eviction_removes_what_a_crashed_writer_left_and_keeps_what_is_being_written(
    tmp_path,
):
    cache = DiskCache(tmp_path, max_bytes=1000)
    (tmp_path / "ab").mkdir()
    left, writing = tmp_path / "ab" / "left.tmp", tmp_path / "ab" / "writing.tmp"
    left.write_bytes(bytes(100))
    writing.write_bytes(bytes(100))
    two_hours_ago, a_minute_ago = time.time() - 7200, time.time() - 60
    os.utime(left, (two_hours_ago, two_hours_ago))
    os.utime(writing, (a_minute_ago, a_minute_ago))
    for n in range(30):  # past the cap: the folder is scanned
        cache.set_bundle(key(n), {"output": ["x" * 40]})
    assert key(0) not in cache  # evicted
    assert not left.exists() and writing.exists()
