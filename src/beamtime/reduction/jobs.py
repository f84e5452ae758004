"""Calculations on the reduction pool. A request whose result the step cache lacks queues a
job (one per result: a second request for the same result joins it) and waits a moment; a job
not done by then is answered 202 and polled by the page, which shows its progress and then
asks again, answered from the cache.

The waiting request blocks on a Redis list the job's end is pushed to (no polling). A job that
computed a plot (or the file browser's summaries) hands it back through Redis when it is small
(ANSWER_BYTES) and says so at once: the request answers with it as it is, without reading the
cache nor decoding the steps' results, while the job writes its steps to the cache
(WriteBehind); the job is "done" once they are written, so that a request after it finds them.

A job lives in Redis for an hour: its state (queued, running, done, failed), the step it is
at, and for a failed one the refusal to give. Only the users who asked for it may read it.
Each runs within the time limit (REDUCTION_TIME_LIMIT seconds) and memory limit
(REDUCTION_MEMORY_MB of address space beyond the worker's own) in force when it was queued.
"""

import contextlib
import functools
import json
import logging
import os
import re
import resource
import secrets
import time

from django.conf import settings

log = logging.getLogger("beamtime.reduction")

PREFIX = "reduction-job:"
KEEP = 3600  # seconds a job is kept
ACTIVE = ("queued", "running")
PUBLIC = ("id", "state", "step", "steps", "module", "queued_at", "started_at", "error")
TASK = "beamtime.reduction.tasks.calculate"
ANSWER_BYTES = 4 * 2**20  # a plot at most this large (as JSON) is handed back through Redis
DESCRIBED = "file summaries"  # what a file browser's job hands back, beside the terminals
LOST_AFTER = 60  # seconds after which a queued job's message must be in the broker
ID_BYTES = 16  # a job's id: this many random bytes, as secrets.token_urlsafe writes them:
ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")  # 22 characters of URL-safe base64


@functools.cache
def redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def connect() -> None:
    """Open a connection to Redis for the requests to come (a web worker does at its start);
    quietly nothing without Redis (each request connects again)."""
    import redis

    with contextlib.suppress(redis.RedisError):
        redis_client().ping()


def _save(job: dict) -> None:
    redis_client().set(PREFIX + job["id"], json.dumps(job), ex=KEEP)


def _load(job_id: str) -> dict | None:
    """The job, None for an id that is no job's: one not shaped as jobs' ids are is not looked
    up (``PREFIX + id`` also starts the keys of a job's other records)."""
    if not ID_SHAPE.fullmatch(str(job_id)):
        return None
    data = redis_client().get(PREFIX + str(job_id))
    return json.loads(data) if data else None


def _update(job_id: str, **changes) -> None:
    job = _load(job_id)
    if job is not None:
        _save({**job, **changes})


def public(job: dict) -> dict:
    """What the page may see of a job, and where to poll it."""
    from django.urls import reverse

    shown = {k: job.get(k) for k in PUBLIC}
    shown["url"] = reverse("api:reduction_job", args=[job["id"]])
    shown["now"] = time.time()
    return shown


def get(user, job_id: str) -> dict | None:
    """The job, if ``user`` asked for it; one whose worker was lost is failed."""
    job = _load(job_id)
    if job is None or user.pk not in job["users"]:
        return None
    limit = job["time_limit"] + 60  # past its hard limit: the process running it is gone
    if job["state"] == "running" and time.time() - job["started_at"] > limit:
        job.update(state="failed", error={"error": "the calculation's worker was lost"})
        _save(job)
    elif job["state"] == "queued" and time.time() - job["queued_at"] > LOST_AFTER:
        job = _fail_if_lost(job)
    return job


def _fail_if_lost(job: dict) -> dict:
    """Fail a job still queued whose message the broker no longer holds (a queue flushed, a
    Redis restored without it): nothing would ever run it."""
    import redis

    from beamtime.core.broker import pending_first_args

    try:
        if job["id"] in pending_first_args(TASK, "reduction"):
            return job
    except redis.RedisError:
        return job  # cannot tell now; the next poll asks again
    job = _load(job["id"]) or job  # a worker may have taken it meanwhile
    if job["state"] == "queued":
        error = "the calculation's message was lost from the job queue (restarted?): ask again"
        job.update(state="failed", error={"error": error})
        _save(job)
        _announce_end(job["id"])
    return job


class _Sent:
    """What Celery hands back for a sent job (it keeps no result of it)."""

    def __init__(self, task_id: str):
        self.id = task_id


def new(user) -> dict:
    """A job record for ``user``, queued (not yet on the queue), with today's limits."""
    job = {
        "id": secrets.token_urlsafe(ID_BYTES),
        "state": "queued",
        "step": 0,
        "steps": None,
        "module": None,
        "queued_at": time.time(),
        "started_at": None,
        "error": None,
        "users": [user.pk],
        "time_limit": settings.REDUCTION_TIME_LIMIT,
        "memory_mb": settings.REDUCTION_MEMORY_MB,
    }
    _save(job)
    return job


def submit(user, request: dict, key: str) -> dict:
    """The job computing the result with cache key ``key``, queued now unless one is under
    way; ``request`` is ``{"calculate": BODY}`` or ``{"describe": BODY}`` (see reduction.api)."""
    from beamtime.celery import app

    client = redis_client()
    running = client.get(f"{PREFIX}for:{key}")
    job = _load(running.decode()) if running else None
    if job is not None and job["state"] in ACTIVE:
        if user.pk not in job["users"]:
            _update(job["id"], users=[*job["users"], user.pk])
        return job
    job = new(user)
    client.set(f"{PREFIX}for:{key}", job["id"], ex=KEEP)
    # Sent by name, with no result: apply_async would make this thread build Celery's result
    # backend (tens of ms at its first job), for a result nothing reads (the job is in Redis).
    app.send_task(
        TASK,
        (job["id"], user.pk, request),
        soft_time_limit=job["time_limit"],
        time_limit=job["time_limit"] + 15,  # the soft limit lets the job say why it stopped
        expires=KEEP,
        ignore_result=True,
        result_cls=_Sent,
    )
    return job


def _ended(job_id: str) -> str:
    """The list a job's end is pushed to (one item, put back by each request that took it)."""
    return f"{PREFIX}ended:{job_id}"


def _answer(job_id: str, terminal: str) -> str:
    return f"{PREFIX}answer:{job_id}:{terminal}"


def _announce_end(job_id: str) -> None:
    redis_client().pipeline().rpush(_ended(job_id), 1).expire(_ended(job_id), KEEP).execute()


def wait(user, job: dict, seconds: float) -> dict:
    """The job once it has ended, or as it is after ``seconds``: the request sleeps in a Redis
    BLPOP until the job's end is pushed, so a short calculation is answered as it ends."""
    if job["state"] in ACTIVE and seconds > 0:  # (a BLPOP of timeout 0 would never end)
        if redis_client().blpop([_ended(job["id"])], timeout=seconds) is not None:
            _announce_end(job["id"])  # put back, for the others waiting on the same job
        job = get(user, job["id"]) or job
    return job


def answer(job: dict, terminal: str) -> bytes | None:
    """The plot (JSON) a job handed back for ``terminal``, None if it handed none (yet)."""
    return redis_client().get(_answer(job["id"], terminal))


@contextlib.contextmanager
def memory_limit(mib: int):
    """At most ``mib`` MiB of address space beyond what this process holds now: an
    allocation past it raises MemoryError. The limit is lifted afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        held = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = held + mib * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run(job_id: str, user_pk: int, request: dict) -> str:
    """Compute a job's result into the step cache (on a reduction worker); its final state."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.contrib.auth import get_user_model
    from django.utils.functional import SimpleLazyObject

    from beamtime.reduction import service
    from beamtime.reduction.dataflow.cache import WriteBehind
    from beamtime.reduction.dataflow.template import Template, TemplateError

    job = _load(job_id)
    if job is None or job["state"] != "queued":
        return job["state"] if job else "gone"
    _update(job_id, state="running", started_at=time.time())
    last = 0.0

    def progress(number: int, count: int, module: str) -> None:
        nonlocal last
        if time.monotonic() - last > 0.3 or number == 1:
            last = time.monotonic()
            _update(job_id, step=number, steps=count, module=module)

    error, handed, cache = None, False, WriteBehind(service.step_cache())
    try:
        # Looked up only if a step asks about the user (a data source checking who may read
        # a file): a job on the local folder or a web source needs no database at all, whose
        # connection (closed by Celery before each task) cost a job ~10 ms.
        user = SimpleLazyObject(lambda: get_user_model().objects.get(pk=user_pk))
        service.instruments()  # imported before the limit: only the calculation counts
        with memory_limit(job["memory_mb"]):
            if "describe" in request:
                asked = request["describe"]
                summaries = service.file_summaries(
                    user, asked["instrument"], asked["files"][:500], True, progress
                )
                handed = hand_back(job_id, DESCRIBED, summaries)
            else:
                asked = request["calculate"]
                terminal = asked.get("terminal", "output")
                values, datatype, _ = service.run(
                    user,
                    Template.from_dict(asked["template"]),
                    asked.get("config") or {},
                    asked["node"],
                    terminal,
                    progress=progress,
                    cache=cache,
                )
                if asked.get("export") is None:
                    handed = hand_back(job_id, terminal, service.plottable(values, datatype))
    except TemplateError as exc:
        error = {"error": str(exc), "node": exc.node}
        if exc.terminal:
            error["field"] = exc.terminal
        # a step that ran out of memory or time fails as that step, its cause kept
        cause = exc.__cause__
        if isinstance(cause, MemoryError | SoftTimeLimitExceeded):
            error = {**_limit_error(cause, job), "node": exc.node}
    except (MemoryError, SoftTimeLimitExceeded) as exc:
        error = _limit_error(exc, job)
    except Exception as exc:
        log.exception("reduction job %s failed", job_id)
        error = {"error": f"the calculation failed: {exc}"}
    if handed:
        _announce_end(job_id)  # the waiting request answers with the plot handed back…
    cache.flush()  # …while the steps are written; the job is done once they are
    _update(job_id, state="failed" if error else "done", error=error)
    if not handed:
        _announce_end(job_id)
    return "failed" if error else "done"


def hand_back(job_id: str, terminal: str, plot: dict) -> bool:
    """Keep ``plot`` (or file summaries) for the requests waiting on the job, if it is small;
    whether it was."""
    text = json.dumps(plot)
    if len(text) > ANSWER_BYTES:
        return False
    redis_client().set(_answer(job_id, terminal), text, ex=KEEP)
    return True


def _limit_error(exc: BaseException, job: dict) -> dict:
    if isinstance(exc, MemoryError):
        return {
            "error": f"the calculation needs more than {job['memory_mb']} MiB of memory, the "
            "reduction limit (BEAMTIME_REDUCTION_MEMORY_MB): reduce fewer or smaller files"
        }
    return {
        "error": f"the calculation took longer than {job['time_limit']} s, the reduction time "
        "limit (BEAMTIME_REDUCTION_TIME_LIMIT_MINUTES): reduce fewer or smaller files"
    }
