"""API keys get scopes: "read" and "write:fplane". Keys that exist keep everything they could
do before (both scopes); new keys have "read" unless given more."""

from django.db import migrations, models

import beamtime.core.models


def keep_what_keys_could_do(apps, schema_editor):
    apps.get_model("core", "ApiKey").objects.update(scopes=["read", "write:fplane"])


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.JSONField(default=beamtime.core.models.default_scopes),
        ),
        migrations.RunPython(keep_what_keys_could_do, migrations.RunPython.noop),
    ]
