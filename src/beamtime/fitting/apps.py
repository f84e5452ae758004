from django.apps import AppConfig


class FittingConfig(AppConfig):
    name = "beamtime.fitting"
    label = "fitting"
    verbose_name = "Reflectivity fitting"
