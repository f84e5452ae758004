"""Mark the experiments' archives of ECC configurations, so that one stays private once its
experiment is deleted: those an experiment points at, and those whose changes the DAQ made
(an archive whose experiment is already gone)."""

from django.db import migrations, models
from django.db.models import Q


def mark_archives(apps, schema_editor):
    Instrument = apps.get_model("configs", "Instrument")
    Instrument.objects.filter(Q(daq_experiment__isnull=False) | Q(changes__source="daq")).update(
        is_archive=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("configs", "0006_change_boundary_indexes"),
        ("daq", "0002_roles_and_archive"),
    ]

    operations = [
        migrations.AddField(
            model_name="instrument",
            name="is_archive",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_archives, migrations.RunPython.noop),
    ]
