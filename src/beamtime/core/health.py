"""Reachability of the parts the platform needs: database, Redis, Celery workers (a live one in
every pool), and the processes `beamtime serve` supervises."""

import threading
import time

import redis
from django.conf import settings
from django.db import connection

from beamtime import worker_heartbeat
from beamtime.celery import app
from beamtime.supervisor import read_status

_refreshing = threading.Lock()
_cached: tuple[float, dict] | None = None


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable"; say which
        return {"ok": False, "error": str(exc).strip()}
    return {"ok": True, "vendor": connection.vendor}


def check_redis() -> dict:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True}


def check_workers(timeout: float = 1.0) -> dict:
    """Whether a worker answers; returns at the first answer, so a healthy check is fast."""
    try:
        replies = app.control.ping(timeout=timeout, limit=1)
    except Exception as exc:  # kombu raises several unrelated types when the broker is down
        return {"ok": False, "error": str(exc), "workers": []}
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return {
            "ok": False,
            "error": f"no Celery worker answered within {timeout:g} s",
            "workers": [],
        }
    return {"ok": True, "workers": workers}


def check_pools() -> dict:
    """Each pool of settings.WORKER_POOLS with the live workers that consume its queues
    (from the workers' heartbeats in Redis: one quick call, nobody waited for)."""
    try:
        workers = worker_heartbeat.live_workers(worker_heartbeat.connect())
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc), "pools": {}}
    pools, uncovered = {}, []
    for pool, spec in settings.WORKER_POOLS.items():
        pools[pool] = sorted(w for w, qs in workers.items() if set(spec["queues"]) & set(qs))
        missing = [q for q in spec["queues"] if not any(q in qs for qs in workers.values())]
        if missing:
            partly = len(missing) < len(spec["queues"])
            uncovered.append(f"{pool} (queue {', '.join(missing)})" if partly else pool)
    report = {"ok": not uncovered, "pools": pools}
    if uncovered:
        report["error"] = f"no live worker in the pool: {', '.join(uncovered)}"
    return report


def check_processes() -> dict | None:
    """The processes of a `beamtime serve` on this data directory; None without one."""
    status = read_status(settings.SERVE_STATUS_FILE)
    if status is None:
        return None
    restarting = sorted(
        name for name, child in status["children"].items() if child["state"] != "running"
    )
    report = {
        "ok": not restarting,
        "restarts": {n: c["restarts"] for n, c in status["children"].items()},
    }
    if restarting:
        report["error"] = f"restarting: {', '.join(restarting)}"
    return report


def report() -> dict:
    """The checks, and the platform's state: "ok", "degraded" (the database answers but some
    part does not, or is being restarted) or "down" (no database)."""
    checks = {"database": check_database(), "redis": check_redis()}
    # Without Redis there is no way to reach a worker: say so instead of waiting.
    if checks["redis"]["ok"]:
        checks["workers"] = check_workers()
        checks["pools"] = check_pools()
    else:
        checks["workers"] = {"ok": False, "error": "Redis is not reachable", "workers": []}
        checks["pools"] = {"ok": False, "error": "Redis is not reachable", "pools": {}}
    processes = check_processes()
    if processes is not None:
        checks["processes"] = processes
    ok = all(c["ok"] for c in checks.values())
    state = "ok" if ok else "degraded" if checks["database"]["ok"] else "down"
    return {"ok": ok, "status": state, **checks}


def cached_report() -> dict:
    """report(), computed at most once per HEALTH_CACHE_SECONDS in this process; while one
    thread computes a fresh one, the others answer with the last."""
    global _cached
    cached = _cached
    if cached is not None and time.monotonic() - cached[0] < settings.HEALTH_CACHE_SECONDS:
        return cached[1]
    if not _refreshing.acquire(blocking=cached is None):
        return cached[1]
    try:
        _cached = (time.monotonic(), report())
        return _cached[1]
    finally:
        _refreshing.release()
