from django.apps import AppConfig


class ReductionConfig(AppConfig):
    name = "beamtime.reduction"
    label = "reduction"
    verbose_name = "Data reduction"

    def ready(self):
        from django.conf import settings

        from beamtime.reduction import checks, sources  # noqa: F401 (checks registers)

        sources.configure(sources.from_settings(settings))
