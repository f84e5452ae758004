from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load each Beamtime app's demo content (its demo.load); safe to run again."

    def handle(self, *args, **options):
        for config in apps.get_app_configs():
            name = f"{config.name}.demo"
            if config.name.startswith("beamtime.") and find_spec(name) is not None:
                import_module(name).load(self.stdout)
