"""Reachability of the parts the platform needs: database, Redis, Celery workers."""

import redis
from django.conf import settings
from django.db import connection

from beamtime.celery import app


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
    try:
        replies = app.control.ping(timeout=timeout)
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


def report() -> dict:
    checks = {"database": check_database(), "redis": check_redis()}
    # Without Redis there is no way to reach a worker: say so instead of waiting.
    if checks["redis"]["ok"]:
        checks["workers"] = check_workers()
    else:
        checks["workers"] = {"ok": False, "error": "Redis is not reachable", "workers": []}
    return {"ok": all(c["ok"] for c in checks.values()), **checks}
