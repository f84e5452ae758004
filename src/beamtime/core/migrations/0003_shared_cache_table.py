"""Create the database table of the "shared" cache (settings.CACHES), which every web process
reads: login failures are counted there. Django's test runner makes it by itself; a real
installation gets it here, with every other table, from ``migrate``."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_apikey_scopes")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
