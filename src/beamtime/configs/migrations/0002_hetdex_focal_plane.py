"""The HETDEX focal plane: the instrument the FPlane service (/fplane/) serves, with its slots."""

from django.db import migrations

from beamtime.configs.instruments import create_hetdex


def create(apps, schema_editor):
    create_hetdex(apps.get_model("configs", "Instrument"), apps.get_model("configs", "Slot"))


class Migration(migrations.Migration):
    dependencies = [("configs", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
