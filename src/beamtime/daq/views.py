from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from beamtime.core.access import active_experiment_for, ecc_server_for, observable_for
from beamtime.daq import actions, alarms, server_control
from beamtime.daq.access import coordinated_experiment_for
from beamtime.daq.actions import ActionRefused
from beamtime.daq.easy_setup import EasySetupForm, current_values, easy_setup
from beamtime.daq.logs import LogRefused, read_log
from beamtime.daq.models import DataRouter, ECCServer, Experiment
from beamtime.daq.observables import ObservableForm, chart_points, reorder
from beamtime.daq.run_diff import run_diff
from beamtime.daq.run_files import run_files
from beamtime.daq.runsheet import RunSheetForm, run_table, run_table_csv
from beamtime.daq.setup_forms import RunLimitForm
from beamtime.daq.status import status


def status_page(request):
    try:
        experiment = active_experiment_for(request.user)
    except Http404:
        return render(request, "daq/no_experiment.html", status=200)
    return render(request, "daq/status.html", panel_context(request, experiment))


def panel_context(request, experiment, notice: str = "") -> dict:
    now = status(experiment)
    return {
        "status": now,
        "notice": notice,
        "actions": actions.ACTIONS,
        "controls": [(a, actions.unavailable(now, a)) for a in actions.ACTIONS],
        "can_coordinate": experiment.is_coordinator(request.user),
    }


def panels(request, notice: str = ""):
    """The live part of the status page, polled by htmx every two seconds."""
    experiment = active_experiment_for(request.user)
    return render(request, "daq/_panels.html", panel_context(request, experiment, notice))


@require_POST
def global_action(request, action):
    try:
        actions.global_action(active_experiment_for(request.user), action, request.user)
    except ActionRefused as exc:
        return panels(request, notice=str(exc))
    return panels(request)


@require_POST
def server_action(request, pk, action):
    try:
        actions.server_action(ecc_server_for(request.user, pk), action)
    except ActionRefused as exc:
        return panels(request, notice=str(exc))
    return panels(request)


@require_POST
def retry_filing(request, pk):
    experiment = active_experiment_for(request.user)
    try:
        actions.retry_filing_now(get_object_or_404(experiment.data_routers, pk=pk))
    except ActionRefused as exc:
        return panels(request, notice=str(exc))
    return panels(request)


@require_POST
def acknowledge_alarm(request, pk):
    experiment = active_experiment_for(request.user)
    alarms.acknowledge(get_object_or_404(experiment.alarms, pk=pk), request.user)
    return redirect(request.headers.get("Referer") or "daq:status")


@require_POST
def clear_log(request):
    coordinated_experiment_for(request.user, "clear the log").log_entries.all().delete()
    return panels(request)


def choose_config(request, pk):
    server = ecc_server_for(request.user, pk)
    error = ""
    if request.method == "POST":
        try:
            actions.choose_config(
                server, request.POST.get("config", ""), for_all="for_all" in request.POST
            )
            return redirect("daq:status")
        except ActionRefused as exc:
            error = str(exc)
    configs = (
        server_control.refresh_configs(server)
        if request.GET.get("refresh")
        else server.configs.all()
    )
    return render(
        request, "daq/choose_config.html", {"server": server, "configs": configs, "error": error}
    )


def easy_setup_page(request):
    experiment = coordinated_experiment_for(request.user)
    form = EasySetupForm(
        request.POST or None, initial=current_values(experiment), experiment=experiment
    )
    if request.method == "POST" and form.is_valid():
        if experiment.is_running:
            form.add_error(None, "a run is in progress: stop it before replacing the set-up")
        else:
            easy_setup(experiment, form.cleaned_data)
            return redirect("daq:status")
    return render(request, "daq/easy_setup.html", {"form": form, "experiment": experiment})


def run_limit_page(request):
    experiment = coordinated_experiment_for(request.user, "set the run limit")
    form = RunLimitForm.for_experiment(experiment, request.POST or None)
    if request.method == "POST" and form.is_valid():
        Experiment.objects.filter(pk=experiment.pk).update(**form.fields_to_save())
        messages.success(request, "The run limit is saved.")
        return redirect("daq:status")
    return render(request, "daq/run_limit.html", {"form": form, "experiment": experiment})


def run_list(request):
    experiment = active_experiment_for(request.user)
    observables, rows = run_table(experiment)
    return render(
        request,
        "daq/run_list.html",
        {"experiment": experiment, "observables": observables, "rows": rows},
    )


def run_list_csv(request):
    experiment = active_experiment_for(request.user)
    response = HttpResponse(run_table_csv(experiment), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(experiment.name)}-runs.csv"'
    return response


def run_files_page(request, number):
    run = get_object_or_404(active_experiment_for(request.user).runs, run_number=number)
    return render(request, "daq/run_files.html", {"run": run, "routers": run_files(run)})


def run_diff_page(request, a, b):
    runs = active_experiment_for(request.user).runs
    before = get_object_or_404(runs, run_number=a)
    after = get_object_or_404(runs, run_number=b)
    return render(
        request,
        "daq/run_diff.html",
        {"before": before, "after": after, "servers": run_diff(before, after)},
    )


def run_sheet(request, number=None):
    """Edit a run's metadata; without a number, the latest run ("Update values")."""
    experiment = active_experiment_for(request.user)
    runs = experiment.runs
    run = (
        get_object_or_404(runs, run_number=number)
        if number is not None
        else runs.order_by("-run_number").first()
    )
    if run is None:
        raise Http404("no runs yet")
    if request.method == "POST":
        form = RunSheetForm(request.POST, run=run)
        if form.is_valid():
            form.save()
            messages.success(request, f"Run {run.run_number}: the run sheet is saved.")
            return redirect("daq:runs")
    else:
        form = RunSheetForm.for_run(run, same_as_previous="same_as_previous" in request.GET)
    return render(request, "daq/run_sheet.html", {"run": run, "form": form})


def observables(request):
    experiment = active_experiment_for(request.user)
    form = ObservableForm(request.POST or None, experiment=experiment)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("daq:observables")
    return render(
        request,
        "daq/observables.html",
        {
            "experiment": experiment,
            "observables": experiment.observables.all(),
            "form": form,
            "can_coordinate": experiment.is_coordinator(request.user),
        },
    )


def observable_edit(request, pk):
    observable = observable_for(request.user, pk)
    if request.method == "POST" and ("hide" in request.POST or "show" in request.POST):
        coordinated_experiment_for(request.user, "hide observables")
        observable.is_hidden = "hide" in request.POST
        observable.save(update_fields=["is_hidden"])
        return redirect("daq:observables")
    form = ObservableForm(
        request.POST or None, instance=observable, experiment=observable.experiment
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("daq:observables")
    context = {
        "observable": observable,
        "form": form,
        "can_coordinate": observable.experiment.is_coordinator(request.user),
    }
    return render(request, "daq/observable_edit.html", context)


@require_POST
def observables_order(request):
    experiment = active_experiment_for(request.user)
    try:
        reorder(experiment, [int(pk) for pk in request.POST.get("order", "").split(",") if pk])
    except ValueError as exc:
        return HttpResponse(f"order: {exc}", status=400)
    return HttpResponse(status=204)


def observable_chart(request, pk):
    observable = observable_for(request.user, pk)
    return render(
        request,
        "daq/observable_chart.html",
        {
            "observable": observable,
            "points": chart_points(observable),
            "numeric": observable.value_type != "str",
        },
    )


def log_tail(request, kind, pk):
    """The end of an ECC server's or a data router's log file, read on its host from a folder
    the facility allows there (settings.DAQ_LOG_ROOTS), symbolic links resolved first."""
    experiment = active_experiment_for(request.user)
    model = {"servers": ECCServer, "routers": DataRouter}.get(kind)
    if model is None:
        raise Http404
    component = get_object_or_404(model, pk=pk, experiment=experiment)
    text, error = "", ""
    if not component.log_path:
        error = f"no log file is set for {component.name} (Set-up)"
    else:
        try:
            text = read_log(component, lines=100)
        except LogRefused as exc:
            error = str(exc)
    return render(
        request, "daq/log_tail.html", {"component": component, "text": text, "error": error}
    )
