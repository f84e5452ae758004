"""The forms that change an experiment's set-up, for the pages and the API alike: hosts and
log files only where the facility allows them (safety.py), links only within the experiment."""

import logging

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import transaction

from beamtime.daq import safety
from beamtime.daq.models import DataRouter, DataSource, ECCServer

log = logging.getLogger("beamtime.daq")


class ComponentForm(forms.ModelForm):
    def __init__(self, *args, experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment = experiment
        if "port" in self.fields:  # a TCP port (the model's column takes any positive number)
            port = self.fields["port"]
            port.validators += [MinValueValidator(1), MaxValueValidator(65535)]
            port.widget.attrs.update(min=1, max=65535)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = field.queryset.filter(experiment=experiment)

    def clean_ip_address(self):
        return safety.check_host(self.cleaned_data["ip_address"])

    def clean(self):
        data = super().clean()
        host = data.get("ip_address")
        for field, check in [
            ("log_path", safety.check_log_path),
            ("staging_directory", self.check_staging),
        ]:
            if field in self.fields and data.get(field) and host:
                try:
                    data[field] = check(host, data[field])
                except ValidationError as exc:
                    self.add_error(field, exc)
        return data

    def check_staging(self, host: str, path: str) -> str:
        return safety.check_staging(host, path, self.experiment.pk)

    def save(self, commit=True):
        self.instance.experiment = self.experiment
        return super().save(commit)


class ECCServerForm(ComponentForm):
    class Meta:
        model = ECCServer
        fields = ["name", "ip_address", "port", "log_path"]

    def save(self, commit=True):
        server = super().save(commit)
        if commit and {"ip_address", "port"} & set(self.changed_data):
            # A new address: ask it for its configuration sets once the row is committed.
            transaction.on_commit(lambda: fetch_configs_later(server.pk))
        return server


def fetch_configs_later(server_pk: int) -> None:
    from beamtime.daq import tasks

    try:
        tasks.refresh_configs.delay(server_pk)
    except Exception:  # the next poll that finds it Idle fetches them anyway
        log.exception("cannot queue the configuration list of server %s", server_pk)


class DataRouterForm(ComponentForm):
    class Meta:
        model = DataRouter
        fields = ["name", "ip_address", "port", "connection_type", "staging_directory", "log_path"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staging_directory"].required = True


class DataSourceForm(ComponentForm):
    class Meta:
        model = DataSource
        fields = ["name", "ecc_server", "data_router"]


FORMS = {"servers": ECCServerForm, "routers": DataRouterForm, "sources": DataSourceForm}


class RunLimitForm(forms.Form):
    """When runs stop on their own: the page's form for what ``PUT /api/daq/run-limit`` sets
    (same bounds: 10 s to 7 days; any volume), in minutes and gigabytes."""

    minutes = forms.FloatField(
        label="Stop a run after (minutes)",
        required=False,
        min_value=10 / 60,
        max_value=7 * 24 * 60,
        help_text="empty: no time limit",
    )
    gigabytes = forms.FloatField(
        label="… or after this much data (GB)",
        required=False,
        min_value=1e-9,
        max_value=4e9,
        help_text="run files waiting in the routers' staging folders; empty: no limit",
    )
    stop_at_limit = forms.BooleanField(
        label="Stop the run at its limit (else only raise an alarm)", required=False
    )
    restart_after_limit = forms.BooleanField(label="Then start the next run", required=False)

    @classmethod
    def for_experiment(cls, experiment, data=None):
        seconds, size = experiment.run_limit_seconds, experiment.run_limit_bytes
        initial = {
            "minutes": round(seconds / 60, 3) if seconds else None,
            "gigabytes": size / 1e9 if size else None,
            "stop_at_limit": experiment.stop_at_limit,
            "restart_after_limit": experiment.restart_after_limit,
        }
        return cls(data, initial=initial)

    def fields_to_save(self) -> dict:
        data = self.cleaned_data
        return {
            "run_limit_seconds": round(data["minutes"] * 60) if data["minutes"] else None,
            "run_limit_bytes": round(data["gigabytes"] * 1e9) if data["gigabytes"] else None,
            "stop_at_limit": data["stop_at_limit"],
            "restart_after_limit": data["restart_after_limit"],
        }
