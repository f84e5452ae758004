from django.apps import AppConfig


class DaqConfig(AppConfig):
    name = "beamtime.daq"
    label = "daq"
    verbose_name = "Run control"
