"""The HETDEX focal plane: the instrument the FPlane service (/fplane/) serves, with its slots."""

from django.db import migrations

from beamtime.configs.fplane import nominal_position, slot_names


def create(apps, schema_editor):
    Instrument = apps.get_model("configs", "Instrument")
    Slot = apps.get_model("configs", "Slot")
    hetdex, _ = Instrument.objects.get_or_create(
        name="hetdex",
        defaults={
            "title": "HETDEX focal plane",
            "kind": "fplane",
            "timezone": "America/Chicago",
            "description": "Which IFU sits in which focal-plane slot of the HET, and which "
            "spectrograph it feeds.",
        },
    )
    for name in slot_names():
        x, y = nominal_position(name)
        Slot.objects.get_or_create(
            instrument=hetdex, name=name, defaults={"attributes": {"x": x, "y": y}}
        )


class Migration(migrations.Migration):
    dependencies = [("configs", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
