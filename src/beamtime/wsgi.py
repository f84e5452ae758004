import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")
application = get_wsgi_application()


def _warm():
    """What a worker's first requests would otherwise wait for: the URL configuration (every
    app's API, imported at the first request anyway) and the connection to the job queue."""
    from django.urls import get_resolver

    from beamtime.celery import warm_publishing

    patterns = get_resolver().url_patterns  # imported by this access
    if patterns:
        warm_publishing()


threading.Thread(target=_warm, name="warm up", daemon=True).start()
