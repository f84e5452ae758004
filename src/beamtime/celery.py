"""The Celery application shared by every Beamtime app (queues: default, fits, reduction, daq)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")

app = Celery("beamtime")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
