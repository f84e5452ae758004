import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")
application = get_wsgi_application()


def _warm():
    """What a worker's first requests would otherwise wait for: the URL configuration (every
    app's API, imported at the first request anyway, and its patterns' regular expressions,
    compiled at their first match), what the middleware and the first query import, the
    connection to the job queue and its task sender, the reduction jobs' connection to Redis."""
    from django.conf import settings
    from django.http.request import split_domain_port
    from django.urls import get_resolver
    from django.utils.module_loading import import_string

    from beamtime.celery import warm_publishing
    from beamtime.reduction import jobs

    _compile(get_resolver().url_patterns)  # imported by this access
    _compile_first_query()
    for name in (settings.MESSAGE_STORAGE, settings.SESSION_SERIALIZER):
        import_string(name)
    split_domain_port("localhost")  # compiles the host check's pattern
    warm_publishing()
    jobs.connect()


def _compile_first_query() -> None:
    """Compile (not run) a query through the ORM: a process's first one also builds the
    models' relation graph (2–3 ms of its first request that queries through the ORM)."""
    from django.db import connections

    from beamtime.core.models import ApiKey

    try:
        str(ApiKey.objects.with_digest("").query)
    except Exception:  # nothing is lost: the first request compiles it
        pass
    finally:
        connections.close_all()  # this thread's, had a backend connected to compile


def _compile(patterns) -> None:
    for pattern in patterns:
        pattern.pattern.regex  # noqa: B018  (compiled and kept by this access)
        _compile(getattr(pattern, "url_patterns", ()))


threading.Thread(target=_warm, name="warm up", daemon=True).start()
