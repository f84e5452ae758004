"""The electronic run log: the run sheet form, the run table and its CSV export."""

import csv
import io
from collections import Counter

from django import forms
from django.db import transaction

from beamtime.daq.models import Measurement, Observable, RunMetadata

FIELD_TYPES = {
    "int": lambda label, help: forms.IntegerField(label=label, help_text=help, required=False),
    "float": lambda label, help: forms.FloatField(label=label, help_text=help, required=False),
    "str": lambda label, help: forms.CharField(
        label=label, help_text=help, required=False, max_length=200
    ),
}


def observable_field(observable: Observable) -> str:
    return f"obs_{observable.pk}"


class RunSheetForm(forms.Form):
    """Title, class and one field per observable, in the experiment's order."""

    run_class = forms.ChoiceField(label="Run class", choices=RunMetadata.CLASSES)
    title = forms.CharField(label="Title", max_length=200, required=False)

    def __init__(self, *args, run: RunMetadata, **kwargs):
        super().__init__(*args, **kwargs)
        self.run = run
        self.observables = list(run.experiment.observables.shown())
        for observable in self.observables:
            label = (
                f"{observable.name} [{observable.units}]" if observable.units else observable.name
            )
            self.fields[observable_field(observable)] = FIELD_TYPES[observable.value_type](
                label, observable.comment
            )

    def clean(self):
        data = super().clean()
        longest = Measurement._meta.get_field("serialized_value").max_length
        for observable in self.observables:
            name = observable_field(observable)
            if len(str(data.get(name) or "")) > longest:
                self.add_error(name, f"too long: at most {longest} characters are kept")
        return data

    @classmethod
    def for_run(cls, run: RunMetadata, data=None, same_as_previous: bool = False):
        """The form filled from the run's values; with ``same_as_previous``, what the run
        lacks is taken from the run before it."""
        values = sheet_values(run)
        if same_as_previous:
            previous = (
                run.experiment.runs.filter(run_number__lt=run.run_number)
                .order_by("-run_number")
                .first()
            )
            if previous is not None:
                values = {
                    k: v for k, v in sheet_values(previous).items() if v not in (None, "")
                } | {k: v for k, v in values.items() if v not in (None, "")}
        return cls(data, run=run, initial=values)

    @transaction.atomic
    def save(self) -> RunMetadata:
        self.run.run_class = self.cleaned_data["run_class"]
        self.run.title = self.cleaned_data["title"]
        self.run.save(update_fields=["run_class", "title"])
        for observable in self.observables:
            value = self.cleaned_data[observable_field(observable)]
            if value in (None, ""):
                Measurement.objects.filter(observable=observable, run=self.run).delete()
            else:
                Measurement.objects.update_or_create(
                    observable=observable, run=self.run, defaults={"serialized_value": str(value)}
                )
        return self.run


def sheet_values(run: RunMetadata) -> dict:
    values = {"run_class": run.run_class, "title": run.title}
    for m in run.measurements.select_related("observable"):
        values[observable_field(m.observable)] = m.value
    return values


def run_table(experiment) -> tuple[list[Observable], list[dict]]:
    """Every run of the experiment with its measurements, newest first (hidden observables
    keep their values but have no column)."""
    observables = list(experiment.observables.shown())
    runs = experiment.runs.select_related("config_change__instrument").prefetch_related(
        "measurements__observable"
    )
    rows = []
    for run in runs:
        measured = {m.observable_id: m.value for m in run.measurements.all()}
        rows.append(
            {
                "run": run,
                "values": [measured.get(o.pk) for o in observables],
                "configs": configs_summary(run.configs),
            }
        )
    return observables, rows


def configs_summary(configs: dict) -> list[str]:
    """One line per configuration set, with how many servers used it: "cobo/standard/beam ×10"."""
    counts = Counter(configs.values())
    return [f"{config} ×{n}" if n > 1 else config for config, n in sorted(counts.items())]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """Text a spreadsheet would take for a formula gets a leading apostrophe (numbers stay)."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def run_table_csv(experiment) -> str:
    observables, rows = run_table(experiment)
    header = [
        "run_number",
        "run_class",
        "title",
        "start",
        "stop",
        "duration",
        "configs",
        *(str(o) for o in observables),
    ]
    lines = [
        [
            run.run_number,
            run.get_run_class_display(),
            run.title,
            run.start_datetime.isoformat(),
            run.stop_datetime.isoformat() if run.stop_datetime else "",
            run.duration_string,
            "; ".join(f"{k}: {v}" for k, v in sorted(run.configs.items())),
            *("" if v is None else v for v in row["values"]),
        ]
        for row in reversed(rows)
        for run in [row["run"]]
    ]
    out = io.StringIO()
    csv.writer(out).writerows([csv_cell(cell) for cell in line] for line in [header, *lines])
    return out.getvalue()
