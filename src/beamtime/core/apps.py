from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "beamtime.core"
    label = "core"
    verbose_name = "Beamtime"

    def ready(self):
        # Make the project's Celery app the current one, so that .delay() from web
        # processes reaches the configured broker.
        import beamtime.celery  # noqa: F401
        import beamtime.core.throttle  # noqa: F401  (connects the login signal receivers)
