from django.apps import AppConfig


class ConfigsConfig(AppConfig):
    name = "beamtime.configs"
    label = "configs"
    verbose_name = "Configuration history"
