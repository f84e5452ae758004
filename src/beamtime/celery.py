"""The Celery application shared by every Beamtime app (queues: default, fits, reduction, daq)."""

import importlib
import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")

app = Celery("beamtime")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# What a worker taking a queue imports before it forks its pool: its processes then start
# with it (shared, copy-on-write) instead of a user's first request waiting for the imports.
# Fits are left to import refl1d at their first task: they run for seconds anyway, and
# refl1d is the largest part of the stack.
# numpy.ma: numpy imports it at the first np.unique (~15 ms), inside a user's first reduction;
# Django's SQL compiler at the first query (a job's look-up of its user, for daq files).
PRELOAD = {
    "reduction": [
        "h5py",
        "numpy.ma",
        "django.db.models.sql.compiler",
        "beamtime.reduction.instruments.refl.registry",
        # the daq data source's connections, opened around each calculation (~10 ms)
        "beamtime.daq.filed",
    ]
}


# The queues this worker consumes (set as it starts, before it forks its pool).
_consuming: set[str] = set()


def preload(queues) -> list[str]:
    """Import what PRELOAD names for ``queues``; the modules imported."""
    import django

    django.setup()
    _consuming.update(queues)
    modules = [m for q in queues for m in PRELOAD.get(q, [])]
    for module in modules:
        importlib.import_module(module)
    return modules


def warm_publishing() -> None:
    """Connect to the broker, declare the reduction queue and build the task sender, as a
    web worker starts: its first calculation on the pool is then sent in a few ms instead of
    ~0.1 s. Quietly gives up without a broker (it connects again when it sends)."""
    app.amqp.send_task_message  # noqa: B018  (built and kept by this access)
    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
            producer.maybe_declare(app.amqp.queues["reduction"])
    except Exception:  # no broker yet: nothing is lost
        pass


class QuietPeriodic(logging.Filter):
    """Drops a worker's "received" and "succeeded" lines of the periodic tasks (the beat
    schedule's): at idle they were ~100 lines a minute in the run-control worker's log, and
    they said nothing. Users' tasks (a transition, a fit) and every failure are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = record.args.get("name") if isinstance(record.args, dict) else None
        if task is None or record.levelno > logging.INFO:
            return True
        return task not in {entry["task"] for entry in app.conf.beat_schedule.values()}


for _logger in ("celery.worker.strategy", "celery.app.trace"):
    logging.getLogger(_logger).addFilter(QuietPeriodic())


@worker_init.connect
def _preload(sender, **kwargs):
    preload(sender.app.amqp.queues.consume_from)


@worker_process_init.connect
def _connect(**kwargs):
    """Each process of a reduction pool connects to Redis as it starts, not in a user's first
    job (the job's state and its answer go through Redis)."""
    if "reduction" in _consuming:
        from beamtime.reduction import jobs

        jobs.connect()


@worker_ready.connect
def _announce(sender, **kwargs):
    from beamtime import worker_heartbeat

    worker_heartbeat.start(sender)


@worker_shutdown.connect
def _leave(sender, **kwargs):
    from beamtime import worker_heartbeat

    worker_heartbeat.stop(sender.hostname)
