"""System checks of the reduction's settings (``beamtime manage check``; also at start)."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def cache_shared_with_workers(app_configs, **kwargs):
    """With a Redis of the site's own, reduction workers may run on other machines: they can
    hand their results to the web hosts only through a cache in that Redis."""
    if settings.EMBEDDED_REDIS or not settings.REDUCTION_IN_WORKERS:
        return []
    if settings.REDUCTION_CACHE == "redis":
        return []
    return [
        Warning(
            "BEAMTIME_REDUCTION_CACHE is 'disk' while BEAMTIME_REDIS_URL names a shared Redis: "
            "a reduction computed by a worker on another machine stays in that machine's "
            "disk cache and the web host never finds it",
            hint="set BEAMTIME_REDUCTION_CACHE=redis on every machine",
            id="beamtime.reduction.W001",
        )
    ]
