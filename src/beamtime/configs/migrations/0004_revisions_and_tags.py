"""Revisions and tags: entries get their transaction time (recorded, closed, superseded),
changes a revision number, and tags name the history as known at an instant. Existing rows
are backfilled from their changes: an entry was recorded when the change that opened it was
made and closed when the change that closed it was made; revisions number each instrument's
changes in the order they were made."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    Change = apps.get_model("configs", "Change")
    ConfigEntry = apps.get_model("configs", "ConfigEntry")
    numbers = {}
    for change in Change.objects.order_by("made_at", "pk"):
        numbers[change.instrument_id] = numbers.get(change.instrument_id, 0) + 1
        change.revision = numbers[change.instrument_id]
        change.save(update_fields=["revision"])
    for entry in ConfigEntry.objects.select_related("opened_by", "closed_by"):
        entry.recorded_at = entry.opened_by.made_at
        entry.closed_at = entry.closed_by.made_at if entry.closed_by else None
        entry.save(update_fields=["recorded_at", "closed_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("configs", "0003_hetdex_ifuslot_column_row"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=64)),
                ("as_of", models.DateTimeField()),
                ("description", models.TextField(blank=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("made_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["-as_of"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="configentry",
            name="one_open_entry_per_slot",
        ),
        migrations.AddField(
            model_name="change",
            name="is_correction",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="change",
            name="revision",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="change",
            name="valid_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="configentry",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="configentry",
            name="recorded_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="configentry",
            name="superseded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="configentry",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="superseded",
                to="configs.change",
            ),
        ),
        migrations.AlterField(
            model_name="change",
            name="made_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddConstraint(
            model_name="configentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("superseded_at__isnull", True), ("valid_until__isnull", True)),
                fields=("slot",),
                name="one_open_current_entry_per_slot",
            ),
        ),
        migrations.AddField(
            model_name="tag",
            name="instrument",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tags",
                to="configs.instrument",
            ),
        ),
        migrations.AddField(
            model_name="tag",
            name="made_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.UniqueConstraint(
                fields=("instrument", "name"), name="unique_tag_name"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
