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
from beamtime.daq.access import coordinated_experiment_for
from beamtime.daq.models import Experiment
from beamtime.daq.runs import RunRefused, activate_experiment
from beamtime.daq.setup_forms import FORMS
from beamtime.daq.workers import UnsafePath, check_name


class ExperimentScoped:
    """Views over one kind of component of the active experiment: members and staff see them,
    coordinators and staff change them, and not while a run records."""

    model = None
    fields: list[str] = []
    template_name = "daq/setup_list.html"
    changes = False

    def dispatch(self, request, *args, **kwargs):
        if self.changes:
            self.experiment = coordinated_experiment_for(request.user)
            if request.method == "POST" and self.experiment.is_running:
                return render(
                    request,
                    "daq/setup_locked.html",
                    {"experiment": self.experiment, "kind": self.kind},
                    status=409,
                )
        else:
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
            can_coordinate=self.experiment.is_coordinator(self.request.user),
            **kwargs,
        )


class EditsComponent(ExperimentScoped):
    """Add and edit forms (setup_forms.py): allowed hosts and log folders, links only to
    components of the same experiment."""

    changes = True

    def get_form_class(self):
        return FORMS[self.kind]

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "experiment": self.experiment}

    def form_valid(self, form):
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except IntegrityError:
            form.add_error(
                "name" if "name" in form.fields else None,
                "this name or link is in use already in this experiment",
            )
            return self.form_invalid(form)


class DeletesComponent(ExperimentScoped):
    changes = True


COMPONENTS = {kind: (form._meta.model, form._meta.fields) for kind, form in FORMS.items()}


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
                    {**attrs, "fields": None, "template_name": "daq/setup_form.html"},
                ).as_view(),
                name=f"{kind}-add",
            ),
            path(
                f"setup/{kind}/<int:pk>/",
                type(
                    f"{kind}Edit",
                    (EditsComponent, UpdateView),
                    {**attrs, "fields": None, "template_name": "daq/setup_form.html"},
                ).as_view(),
                name=f"{kind}-edit",
            ),
            path(
                f"setup/{kind}/<int:pk>/delete",
                type(
                    f"{kind}Delete",
                    (DeletesComponent, DeleteView),
                    {**attrs, "template_name": "daq/setup_delete.html"},
                ).as_view(),
                name=f"{kind}-delete",
            ),
        ]
    return patterns


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "members", "coordinators"]
        widgets = {
            "members": forms.CheckboxSelectMultiple,
            "coordinators": forms.CheckboxSelectMultiple,
        }

    def clean_name(self):
        """The name is the folder each run's files are filed in, on every router's host."""
        name = self.cleaned_data["name"].strip()
        try:
            return check_name(name)
        except UnsafePath as exc:
            raise forms.ValidationError(str(exc)) from None


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
