"""Indexes for the fplane service: the last change boundary at or before an instant is one
seek on (instrument, valid_from) and one on (instrument, valid_until)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("configs", "0005_instrument_revision"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="change",
            index=models.Index(fields=["instrument", "valid_from"], name="change_instrument_from"),
        ),
        migrations.AddIndex(
            model_name="change",
            index=models.Index(
                fields=["instrument", "valid_until"], name="change_instrument_until"
            ),
        ),
    ]
