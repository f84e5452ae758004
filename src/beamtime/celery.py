"""The Celery application shared by every Beamtime app (queues: default, fits, reduction, daq)."""

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")

app = Celery("beamtime")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _announce(sender, **kwargs):
    from beamtime import worker_heartbeat

    worker_heartbeat.start(sender)


@worker_shutdown.connect
def _leave(sender, **kwargs):
    from beamtime import worker_heartbeat

    worker_heartbeat.stop(sender.hostname)
