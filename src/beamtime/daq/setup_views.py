"""The set-up pages: list, add, edit and delete ECC servers, data routers and data sources
of the active experiment (generic views: they remove real code here), and the experiments."""

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DeleteView, ListView, UpdateView

from beamtime.core.access import active_experiment_for
from beamtime.daq.models import DataRouter, DataSource, ECCServer, Experiment
from beamtime.daq.runs import RunRefused, activate_experiment


class ExperimentScoped:
    """Views over one kind of component of the active experiment (members and staff only)."""

    model = None
    fields: list[str] = []
    template_name = "daq/setup_list.html"

    def dispatch(self, request, *args, **kwargs):
        self.experiment = active_experiment_for(request.user)
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.model.objects.filter(experiment=self.experiment)

    def get_success_url(self):
        return reverse(f"daq:{self.kind}-list")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            kind=self.kind,
            verbose=self.model._meta.verbose_name,
            fields=self.fields,
            experiment=self.experiment,
            **kwargs,
        )


class EditsComponent(ExperimentScoped):
    """Add and edit forms: links only to components of the same experiment."""

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        for field in form.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = field.queryset.filter(experiment=self.experiment)
        return form

    def form_valid(self, form):
        form.instance.experiment = self.experiment
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except IntegrityError:
            form.add_error(
                "name" if "name" in form.fields else None,
                "this name or link is in use already in this experiment",
            )
            return self.form_invalid(form)


COMPONENTS = {
    "servers": (ECCServer, ["name", "ip_address", "port", "log_path"]),
    "routers": (
        DataRouter,
        ["name", "ip_address", "port", "connection_type", "staging_directory", "log_path"],
    ),
    "sources": (DataSource, ["name", "ecc_server", "data_router"]),
}


def component_urls():
    patterns = []
    for kind, (model, fields) in COMPONENTS.items():
        attrs = {"model": model, "fields": fields, "kind": kind}
        patterns += [
            path(
                f"setup/{kind}/",
                type(f"{kind}List", (ExperimentScoped, ListView), attrs).as_view(),
                name=f"{kind}-list",
            ),
            path(
                f"setup/{kind}/add",
                type(
                    f"{kind}Add",
                    (EditsComponent, CreateView),
                    {**attrs, "template_name": "daq/setup_form.html"},
                ).as_view(),
                name=f"{kind}-add",
            ),
            path(
                f"setup/{kind}/<int:pk>/",
                type(
                    f"{kind}Edit",
                    (EditsComponent, UpdateView),
                    {**attrs, "template_name": "daq/setup_form.html"},
                ).as_view(),
                name=f"{kind}-edit",
            ),
            path(
                f"setup/{kind}/<int:pk>/delete",
                type(
                    f"{kind}Delete",
                    (ExperimentScoped, DeleteView),
                    {**attrs, "template_name": "daq/setup_delete.html"},
                ).as_view(),
                name=f"{kind}-delete",
            ),
        ]
    return patterns


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "members"]
        widgets = {"members": forms.CheckboxSelectMultiple}


@staff_member_required
def experiments(request):
    form = ExperimentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("daq:experiments")
    return render(
        request, "daq/experiments.html", {"experiments": Experiment.objects.all(), "form": form}
    )


@staff_member_required
@require_POST
def activate(request, pk):
    try:
        activate_experiment(get_object_or_404(Experiment, pk=pk))
    except RunRefused as exc:
        context = {
            "experiments": Experiment.objects.all(),
            "form": ExperimentForm(),
            "error": str(exc),
        }
        return render(request, "daq/experiments.html", context, status=409)
    return redirect("daq:status")
