"""IFUSLOTs read the HETDEX way: a two-digit column 01–10, then a one-digit row 0–9.

Before, Beamtime read a slot ``0RC`` as row R, column C of a 10 × 10 grid around an empty
centre 055, so it drew slots at the wrong places, refused real slots such as 103 (column 10,
row 3) and offered 99 slots of which only some exist. What a slot name means for the stored
history does not change: ``073`` is what the hardware report called it, and that is the
IFUSLOT of HETDEX's files. What changes:

- every seat of the plate (84: see ``configs/fplane.py``) exists as a slot, with its column,
  row and nominal position (X = (column − 5.5)·100″, Y = (4.5 − row)·100″) as attributes;
- slots that are not seats and never held anything are removed;
- slots that are not seats but have history are kept, marked ``{"seat": false}``, so nothing
  recorded is lost (they appear in the slot history and the API, not in fplane files);
- a history made only by the demo loader is removed: it placed units in slots that do not
  exist (and LRS2/HRS/HPF under invented IDs); ``beamtime manage load_demo`` rebuilds it.
"""

from django.db import migrations

from beamtime.configs.fplane import slot_names
from beamtime.configs.instruments import seat_attributes


def forwards(apps, schema_editor):
    Instrument = apps.get_model("configs", "Instrument")
    Slot = apps.get_model("configs", "Slot")
    Change = apps.get_model("configs", "Change")
    ConfigEntry = apps.get_model("configs", "ConfigEntry")
    hetdex = Instrument.objects.filter(name="hetdex").first()
    if hetdex is None:
        return
    changes = Change.objects.filter(instrument=hetdex)
    if changes.exists() and not changes.exclude(source="demo").exists():
        ConfigEntry.objects.filter(slot__instrument=hetdex).delete()
        changes.delete()
    seats = set(slot_names())
    for name in sorted(seats):
        Slot.objects.update_or_create(
            instrument=hetdex, name=name, defaults={"attributes": seat_attributes(name)}
        )
    others = Slot.objects.filter(instrument=hetdex).exclude(name__in=seats)
    others.filter(entries__isnull=True).delete()
    others.update(attributes={"seat": False})


class Migration(migrations.Migration):
    dependencies = [("configs", "0002_hetdex_focal_plane")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
