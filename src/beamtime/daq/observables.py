"""Observables: the experiment's own columns of the run sheet."""

from django import forms
from django.db import transaction

from beamtime.daq.models import Observable


class ObservableForm(forms.ModelForm):
    class Meta:
        model = Observable
        fields = ["name", "value_type", "units", "comment"]

    def __init__(self, *args, experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment = experiment

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = self.experiment.observables.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(f"the experiment has an observable {name!r} already")
        return name

    def clean_value_type(self):
        value_type = self.cleaned_data["value_type"]
        changed = self.instance.pk and value_type != self.instance.value_type
        if changed and self.instance.measurements.exists():
            raise forms.ValidationError(
                "measurements were recorded with this type; add a new observable instead"
            )
        return value_type

    def save(self, commit=True):
        observable = super().save(commit=False)
        observable.experiment = self.experiment
        if observable.order == 0 and not observable.pk:
            observable.order = self.experiment.observables.count() + 1
        observable.save()
        return observable


@transaction.atomic
def reorder(experiment, pks: list[int]) -> None:
    """Put the experiment's observables in the order of ``pks`` (others keep theirs, after)."""
    known = {o.pk: o for o in experiment.observables.all()}
    if set(pks) - known.keys():
        raise ValueError("the order names observables of another experiment")
    rest = [pk for pk in known if pk not in pks]
    for position, pk in enumerate([*pks, *rest], start=1):
        Observable.objects.filter(pk=pk).update(order=position)


def chart_points(observable: Observable) -> dict:
    """Run numbers and values of a numeric observable, for a Plotly line."""
    measurements = observable.measurements.select_related("run").order_by("run__run_number")
    return {
        "x": [m.run.run_number for m in measurements],
        "y": [m.value for m in measurements],
        "name": str(observable),
    }
