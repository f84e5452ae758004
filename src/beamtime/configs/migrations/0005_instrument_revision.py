"""The instrument row keeps its last revision and when it was made, so that a cached fplane
file can be checked against it without another query; filled in from the changes."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    Instrument = apps.get_model("configs", "Instrument")
    for instrument in Instrument.objects.all():
        last = instrument.changes.order_by("-revision").first()
        if last is not None:
            instrument.revision, instrument.revised_at = last.revision, last.made_at
            instrument.save(update_fields=["revision", "revised_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("configs", "0004_revisions_and_tags"),
    ]

    operations = [
        migrations.AddField(
            model_name="instrument",
            name="revised_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="instrument",
            name="revision",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
