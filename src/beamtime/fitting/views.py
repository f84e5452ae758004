import csv
import io
import math

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from beamtime.core.access import dataset_for, fit_job_for, saved_model_for
from beamtime.fitting import jobs, posterior, refl1d_adapter
from beamtime.fitting.curves import data_of, plot, plot_data, undefined_note
from beamtime.fitting.data import MAX_BYTES, DataError
from beamtime.fitting.forms import FormError, ModelEditor, rows_for
from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.models import Dataset, FitJob, FitPreferences, SavedModel, dataset_name


def index(request):
    datasets = Dataset.objects.filter(owner=request.user)
    search = request.GET.get("q", "").strip()
    if search:
        datasets = datasets.filter(Q(name__icontains=search) | Q(tags__icontains=search))
    return render(
        request,
        "fitting/index.html",
        {
            "datasets": datasets,
            "search": search,
            "jobs": FitJob.objects.filter(owner=request.user).select_related("dataset")[:10],
        },
    )


@require_POST
def upload(request):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "File: choose a data file to upload.")
    elif upload.size > MAX_BYTES:
        messages.error(
            request, f"File: {upload.name} is larger than the limit of {MAX_BYTES // 2**20} MiB."
        )
    else:
        try:
            dataset = Dataset.from_upload(
                request.user,
                dataset_name(request.POST.get("name", ""), upload.name),
                upload.read(),
                request.POST.get("dq_column", "fwhm"),
                dq_over_q(request.POST.get("dq_over_q", "")),
                orso_data_set(request.POST.get("data_set", "")),
            )
        except DataError as exc:
            messages.error(request, f"{upload.name}: {exc}")
        else:
            return redirect("fitting:fit", instrument=dataset.instrument, data_id=dataset.pk)
    return redirect("fitting:index")


@require_POST
def upload_polarized(request):
    """Up to four column files, one per cross-section: chosen by the input each file was put
    in (``file_pp``, ``file_pm``, ``file_mp``, ``file_mm``) or, for ``files``, read from the
    file names. Nothing is stored unless every file is good."""
    chosen = [
        (upload, xs)
        for field, xs in POLARIZED_INPUTS.items()
        for upload in request.FILES.getlist(field)
    ]
    chosen += [(upload, "") for upload in request.FILES.getlist("files")]
    try:
        dataset = Dataset.from_cross_section_files(
            request.user,
            request.POST.get("name", ""),
            chosen,
            request.POST.get("dq_column", "fwhm"),
            dq_over_q(request.POST.get("dq_over_q", "")),
        )
    except DataError as exc:
        messages.error(request, str(exc))
        return redirect("fitting:index")
    return redirect("fitting:dataset", pk=dataset.pk)


MODEL_ORDERS = ("-updated_at", "updated_at", "title", "-title")  # the saved models' orderings
PARTNER_MODELS = 30  # the saved models (newest first) offered for each co-refined data set
POLARIZED_INPUTS = {"file_pp": "++", "file_pm": "+-", "file_mp": "-+", "file_mm": "--"}


def dq_over_q(raw: str) -> float | None:
    """The dQ/Q typed at upload: empty is none given; DataError if it is not a number."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise DataError(f"dQ/Q: {raw[:20]!r} is not a number") from None


def orso_data_set(raw: str) -> int | None:
    """The number of the ORSO data set to take (from 1); None (empty): all the cross-sections
    of polarized data, else the first."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise DataError(f"ORSO data set: {raw[:20]!r} is not a whole number from 1")
    return int(raw)


def dataset_edit(request, pk):
    dataset = dataset_for(request.user, pk)
    if request.method == "POST":
        if "delete" in request.POST:
            dataset.delete()
            return redirect("fitting:index")
        dataset.name = dataset_name(request.POST.get("name", ""), dataset.name)
        dataset.tags = request.POST.get("tags", "").strip()[:200]
        dataset.save(update_fields=["name", "tags"])
        return redirect("fitting:index")
    context = {"dataset": dataset}
    if dataset.is_polarized:
        context["cross_sections"] = {
            xs: {**plot_data(data), "not_positive": int((data.r <= 0).sum())}
            for xs, data in dataset.cross_sections().items()
        }
    return render(request, "fitting/dataset_edit.html", context)


def start_model(request, dataset) -> LayerModel:
    """The model the fit page opens with: a saved one asked for, the last fit's, or the default.
    ValueError (in words) for a ``?model=`` that is not a number."""
    if "model" in request.GET:
        raw = request.GET["model"]
        if not raw.isdigit() or len(raw) > 18:
            raise ValueError(f"model: {raw[:30]!r} is not the number of a saved model")
        return saved_model_for(request.user, int(raw)).layer_model()
    return current_model(request.user, dataset)


def current_model(user, dataset) -> LayerModel:
    """The data set's model as its last fit left it, or the default."""
    last = dataset.fit_jobs.filter(owner=user).first()
    if last is not None:
        return LayerModel.from_dict(last.result["model"] if last.result else last.model)
    return LayerModel()


def fit_page(request, instrument, data_id):
    dataset = dataset_for(request.user, data_id)
    data = data_of(dataset)
    polarized = dataset.is_polarized
    preferences = FitPreferences.of(request.user)
    error, curve, model = "", None, None
    if request.method == "POST":
        action = request.POST.get("action", "evaluate")
        editor = ModelEditor(request.POST, magnetic=polarized)
        try:
            model = editor.model(add_layer=action == "add_layer")
            # renumbered, removed rows gone, new one shown
            editor = ModelEditor(model=model, magnetic=editor.magnetic)
            if action in ("fit", "co_refine"):
                partners = co_refinement(request, dataset) if action == "co_refine" else ([], [])
                return submit_fit(request, dataset, model, preferences, *partners)
            if action == "save":
                saved = SavedModel.objects.create(
                    owner=request.user,
                    model=model.to_dict(),
                    title=request.POST.get("title", "").strip()[:200],
                )
                messages.success(request, f"Saved as “{saved}”.")
            curve = refl1d_adapter.evaluate(model, data)
        except (ModelError, ValueError) as exc:
            error = str(exc)
    else:
        try:
            model = start_model(request, dataset)
            curve = refl1d_adapter.evaluate(model, data)
        except (ModelError, ValueError) as exc:  # e.g. a saved model's Q range misses the data
            error = str(exc)
        editor = ModelEditor(model=model or LayerModel(), magnetic=polarized)
    drawn = plot(data, curve)
    return render(
        request,
        "fitting/fit.html",
        {
            "dataset": dataset,
            "editor": editor,
            "model": model,
            "error": error,
            "note": undefined_note(drawn),
            "plot": drawn,
            "chisq": curve.chisq if curve else None,
            "preferences": preferences,
            "engines": refl1d_adapter.ENGINES,
            "free": model.free_parameters() if model else [],
            "others": Dataset.objects.filter(owner=request.user).exclude(pk=dataset.pk)[:50],
            "saved_models": SavedModel.objects.filter(owner=request.user)[:PARTNER_MODELS],
        },
    )


@require_POST
def evaluate_in_place(request, instrument, data_id):
    """The fit page's Evaluate without a reload: the model form posted as it is on the page,
    answered with the curve and χ² as JSON, or 400 with the error, the input it names
    (``field``) and every input at fault with its own message (``errors``)."""
    dataset = dataset_for(request.user, data_id)
    editor = ModelEditor(request.POST)
    data = data_of(dataset)
    try:
        curve = refl1d_adapter.evaluate(editor.model(), data)
    except FormError as exc:
        return JsonResponse(
            {"error": str(exc), "field": exc.field, "errors": editor.input_errors()}, status=400
        )
    except (ModelError, ValueError) as exc:
        return JsonResponse({"error": str(exc), "field": "", "errors": {}}, status=400)
    drawn = plot(data, curve)
    return JsonResponse(
        {
            "chisq": curve.chisq,
            "curve": drawn["curve"],
            "asymmetry": drawn.get("asymmetry"),
            "note": undefined_note(drawn),
        }
    )


def co_refinement(request, dataset) -> tuple[list[dict], list[str]]:
    """The other data sets ticked on the page, each with its current model, and the names of
    the parameters they share."""
    pks = [int(pk) for pk in request.POST.getlist("partners") if pk.isdigit() and len(pk) <= 18]
    pks = [pk for pk in dict.fromkeys(pks) if pk != dataset.pk]  # each once, not this one
    if not pks:
        raise ValueError("co-refine: tick at least one other data set")
    jobs.check_co_refinement([dataset.pk, *pks])  # before looking them up
    others = [dataset_for(request.user, pk) for pk in pks]
    shared = [name.strip() for name in request.POST.get("shared", "").split(",") if name.strip()]
    partners = [
        {"dataset": other.pk, "model": partner_model(request, other).to_dict()} for other in others
    ]
    return partners, shared


def partner_model(request, other) -> LayerModel:
    """A co-refined data set's model: the saved one chosen for it, else its current one."""
    chosen = request.POST.get(f"partner_model_{other.pk}", "")
    if not chosen:
        return current_model(request.user, other)
    if not chosen.isdigit() or len(chosen) > 18:
        raise ValueError(f"co-refine: {chosen[:30]!r} is not the number of a saved model")
    return saved_model_for(request.user, int(chosen)).layer_model()


def submit_fit(request, dataset, model, preferences, partners=(), shared=()):
    engine = request.POST.get("engine", preferences.engine)
    options = {}
    for name in jobs.OPTIONS:
        raw = request.POST.get(name, "").strip()
        if raw:
            if not raw.isdigit():
                raise ValueError(f"{name}: a whole number from 1 to {jobs.MAX_OPTION}, not {raw!r}")
            options[name] = int(raw)
    job = jobs.submit(request.user, dataset, model, engine, options, partners, shared)
    preferences.engine, preferences.options = engine, options
    preferences.save()
    return redirect("fitting:job", pk=job.pk)


def job_page(request, pk):
    job = fit_job_for(request.user, pk)
    return render(request, "fitting/job.html", job_context(job))


def job_panel(request, pk):
    """The live part of the job page: progress while running, results when done."""
    return render(request, "fitting/_job_panel.html", job_context(fit_job_for(request.user, pk)))


def job_context(job) -> dict:
    context = {"job": job}
    if job.result and job.partners:
        context["sets"], notes = co_refined_sets(job)
        if notes:
            context["error"] = " ".join(notes)
        if len(context["sets"]) == 2:
            context["asymmetry"] = asymmetry_plot(*(s["plot"] for s in context["sets"]))
    if job.result:
        model = LayerModel.from_dict(job.result["model"])
        data = data_of(job.dataset)
        try:
            curve = refl1d_adapter.evaluate(model, data)
        except ValueError as exc:
            curve, context["error"] = None, f"The fitted model cannot be drawn: {exc}"
        drawn = plot(data, curve)
        context.update(
            model=model,
            editor=rows_for(model),
            parameters=[
                (label, *with_uncertainty(value, job.result["errors"].get(label)))
                for label, value in job.result["values"].items()
            ],
            plot=drawn,
            note=undefined_note(drawn),
            posterior=posterior_rows(job.result.get("posterior")),
        )
    context["history"] = FitJob.objects.filter(owner=job.owner, dataset=job.dataset)[:20]
    return context


@require_POST
def save_job_model(request, pk):
    """The fitted model of a finished fit, saved under the title given."""
    job = fit_job_for(request.user, pk)
    if not job.result:
        messages.error(request, "This fit has no result to save yet.")
        return redirect("fitting:job", pk=job.pk)
    saved = SavedModel.objects.create(
        owner=request.user,
        model=job.result["model"],
        title=request.POST.get("title", "").strip()[:200] or f"fit {job.pk} of {job.dataset}"[:200],
    )
    messages.success(request, f"Saved as “{saved}”.")
    return redirect("fitting:model", pk=saved.pk)


def with_uncertainty(value: float, error: float | None) -> tuple[str, str]:
    """A value and its uncertainty with the digits the uncertainty supports: two significant
    digits of the uncertainty, the value to the same decimal place (577.57 ± 0.14)."""
    if error is None or not math.isfinite(error) or error <= 0:
        return f"{value:.6g}", "–"
    places = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{places}f}", f"{error:.{places}f}"


def posterior_rows(summary: dict | None) -> dict | None:
    """A DREAM fit's posterior as the page shows it: each parameter's statistics with the
    digits its spread supports, and what the run used."""
    if not summary:
        return None
    from beamtime.fitting.posterior_plots import FIGURES, pixels

    rows = []
    for label in summary["labels"]:
        found = summary["stats"][label]
        mean, std = with_uncertainty(found["mean"], found["std"])

        def fixed(value, std=found["std"]):
            return with_uncertainty(value, std)[0]

        rhat = found["rhat"]
        rows.append(
            {
                "label": label,
                "best": fixed(found["best"]),
                "mean": mean,
                "std": std,
                "median": fixed(found["median"]),
                "p68": " … ".join(map(fixed, found["p68"])),
                "p95": " … ".join(map(fixed, found["p95"])),
                "rhat": "–" if rhat is None else f"{rhat:.3f}",
                "mixed": rhat is not None and rhat < refl1d_adapter.RHAT_GOOD,
            }
        )
    figures = [
        (name, title, *pixels(name, len(summary["labels"]))) for name, title in FIGURES.items()
    ]
    return {**summary, "rows": rows, "figures": figures, "rhat_good": refl1d_adapter.RHAT_GOOD}


def job_draws(request, pk):
    """A DREAM fit's posterior draws as CSV, the parameter names as header."""
    return posterior.csv_response(fit_job_for(request.user, pk))


def job_figure(request, pk, name, fmt):
    """A DREAM fit's figure (histograms, corner, profile) as PNG or SVG."""
    job = fit_job_for(request.user, pk)
    return posterior.figure_response(job, name, fmt, download="download" in request.GET)


@require_POST
def cancel_job(request, pk):
    job = fit_job_for(request.user, pk)
    jobs.cancel(job)
    return redirect("fitting:job", pk=job.pk)


def job_csv(request, pk):
    """The data and the fitted curve as CSV; polarized data with a column naming each row's
    cross-section."""
    job = fit_job_for(request.user, pk)
    if not job.result:
        return redirect("fitting:job", pk=job.pk)
    data = data_of(job.dataset)
    try:
        curve = refl1d_adapter.evaluate(LayerModel.from_dict(job.result["model"]), data)
    except ValueError as exc:
        messages.error(request, f"The fitted model cannot be computed: {exc}")
        return redirect("fitting:job", pk=job.pk)
    out = io.StringIO()
    writer = csv.writer(out)
    if job.dataset.is_polarized:
        writer.writerow(["cross_section", "Q", "R", "dR", "R_fit"])
        for name, section in data.items():
            fitted = curve.cross_sections.get(name, {"q": [], "r": []})
            for row in _csv_rows(section, dict(zip(fitted["q"], fitted["r"], strict=True))):
                writer.writerow([name, *row])
    else:
        writer.writerow(["Q", "R", "dR", "R_fit"])
        writer.writerows(_csv_rows(data, dict(zip(curve.q, curve.r, strict=True))))
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="fit-{job.pk}.csv"'
    return response


def _csv_rows(data, fitted: dict):
    """Q, R, dR and the fit at Q ("" outside the model's Q range), as exact text."""
    for q, r, dr in zip(data.q, data.r, data.dr, strict=True):
        yield [repr(float(q)), repr(float(r)), repr(float(dr)), repr(fitted.get(float(q), ""))]


def saved_models(request):
    models = SavedModel.objects.filter(owner=request.user)
    search = request.GET.get("q", "").strip()
    if search:
        models = models.filter(Q(title__icontains=search) | Q(notes__icontains=search))
    order = request.GET.get("order", "")
    if order not in MODEL_ORDERS:
        order = MODEL_ORDERS[0]  # anything else: the default, newest first
    models = models.order_by(order)
    return render(
        request,
        "fitting/models.html",
        {
            "models": models,
            "search": search,
            "order": order,
            "datasets": Dataset.objects.filter(owner=request.user)[:50],
        },
    )


@require_POST
def import_model(request):
    """A model from an uploaded refl1d script (as Beamtime writes them), read, never run."""
    from beamtime.fitting import script_import  # bumps and scipy: loaded for this request only

    upload = request.FILES.get("script")
    if upload is None or upload.size > script_import.MAX_BYTES:
        messages.error(request, "Script: choose a refl1d script of at most 1 MiB.")
        return redirect("fitting:models")
    try:
        imported = script_import.import_script(upload.read().decode("utf-8", errors="replace"))
    except ModelError as exc:
        messages.error(request, f"{upload.name}: {str(exc).removeprefix('script: ')}")
        return redirect("fitting:models")
    if len(imported.models) == 1:
        saved = SavedModel.objects.create(
            owner=request.user, title=upload.name[:200], model=imported.models[0].to_dict()
        )
        return redirect("fitting:model", pk=saved.pk)
    count = len(imported.models)
    shared = ", ".join(imported.shared) or "none (nothing is free)"
    for number, model in enumerate(imported.models, start=1):
        SavedModel.objects.create(
            owner=request.user,
            title=f"{upload.name} · experiment {number} of {count} ({measured(model)})"[:200],
            notes=(
                f"Experiment {number} of {count} of {upload.name}: one sample, measured by "
                "each experiment's probe. Co-refine them: open the fit page of experiment 1's "
                "data set with its model, tick the others' data sets with their models, and "
                f"share these parameters: {shared}."
            ),
            model=model.to_dict(),
        )
    messages.success(
        request,
        f"{upload.name}: {count} experiments or probes of one sample, saved as {count} models to "
        f"co-refine (shared parameters: {shared}).",
    )
    return redirect("fitting:models")


def measured(model: LayerModel) -> str:
    """How an imported experiment's model is measured: its guide field, or its angle."""
    if model.uses_magnetism():
        return f"H = {model.guide_field.value:g} T, Aguide = {model.guide_angle.value:g}°"
    return f"angle {model.angle:g}°" if model.angle else "its probe"


def saved_model_edit(request, pk):
    saved = saved_model_for(request.user, pk)
    if request.method == "POST":
        if "delete" in request.POST:
            saved.delete()
            return redirect("fitting:models")
        if "reverse" in request.POST:
            try:
                flipped = saved.layer_model().reversed()
            except ModelError as exc:  # e.g. a magnetic back medium would become the front
                messages.error(request, f"Reverse: {exc}")
                return redirect("fitting:model", pk=saved.pk)
            reversed_model = SavedModel.objects.create(
                owner=request.user,
                title=f"{saved} (reversed)",
                notes=saved.notes,
                model=flipped.to_dict(),
            )
            return redirect("fitting:model", pk=reversed_model.pk)
        saved.title = request.POST.get("title", "").strip()[:200]
        saved.notes = request.POST.get("notes", "")
        saved.save(update_fields=["title", "notes", "updated_at"])
        return redirect("fitting:models")
    return render(
        request,
        "fitting/model_edit.html",
        {"saved": saved, "editor": rows_for(saved.layer_model())},
    )


def saved_model_script(request, pk):
    """The model as a refl1d script reading data.txt, or for a magnetic model data_pp.txt,
    data_pm.txt, data_mp.txt and data_mm.txt (those absent skipped)."""
    model = saved_model_for(request.user, pk).layer_model()
    response = HttpResponse(
        refl1d_adapter.to_script(model, refl1d_adapter.data_files(model)),
        content_type="text/x-python",
    )
    response["Content-Disposition"] = f'attachment; filename="model-{pk}.py"'
    return response


def tools(request):
    """SLD calculator and electrode capacity / charge-rate calculator (GET forms: bookmarkable)."""
    from beamtime.fitting import tools as calculators  # periodictable: for this page only

    context = {"q": request.GET, "invalid": set()}  # the names of the inputs at fault
    if request.GET.get("formula"):
        try:
            context["sld"] = calculators.sld(
                request.GET["formula"],
                optional_number(request.GET, "density"),
                optional_number(request.GET, "wavelength") or 1.8,
            )
        except calculators.ToolError as exc:
            context["sld_error"] = str(exc)
            context["invalid"].add(exc.field)
    if request.GET.get("electrode"):
        try:
            material = calculators.capacity(
                request.GET["electrode"],
                request.GET.get("ions") or "Li",
                optional_number(request.GET, "per_formula"),
            )
            context["capacity"] = material
            if request.GET.get("radius") and request.GET.get("thickness"):
                film = calculators.electrode(
                    material,
                    optional_number(request.GET, "radius"),
                    optional_number(request.GET, "thickness"),
                    optional_number(request.GET, "film_density"),
                )
                context["film"] = film
                context["currents"] = [
                    (label, calculators.c_rate_current(film.charge, rate))
                    for label, rate in (("C/3", 1 / 3), ("C/5", 1 / 5), ("1C", 1.0))
                ]
        except calculators.ToolError as exc:
            context["capacity_error"] = str(exc)
            context["invalid"].add(CAPACITY_INPUTS.get(exc.field, exc.field))
    return render(request, "fitting/tools.html", context)


CAPACITY_INPUTS = {"formula": "electrode", "density": "film_density"}  # the tool's names: inputs'


def optional_number(params, name: str) -> float | None:
    from beamtime.fitting.tools import ToolError

    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ToolError(name, f"{raw[:30]!r} is not a number") from None


def co_refined_sets(job) -> tuple[list[dict], list[str]]:
    """Each data set of a co-refinement with its fitted model and plot data, and a note for
    each one that can no longer be shown (its data set deleted, its model not drawable); of a
    co-refinement made before the limit, the first jobs.MAX_DATASETS."""
    owned = Dataset.objects.filter(owner=job.owner)
    shown = job.partners[: jobs.MAX_DATASETS - 1]
    datasets = [job.dataset] + [owned.filter(pk=p.get("dataset")).first() for p in shown]
    sets, notes = [], []
    if len(job.partners) > len(shown):
        notes.append(f"The first {len(datasets)} of its {len(job.partners) + 1} data sets shown.")
    for number, (dataset, model) in enumerate(
        zip(datasets, job.result["models"], strict=False), start=1
    ):
        if dataset is None:
            notes.append(f"Data set {number} of this co-refinement has been deleted.")
            continue
        data = data_of(dataset)
        try:
            curve = refl1d_adapter.evaluate(LayerModel.from_dict(model), data)
        except ValueError as exc:
            notes.append(f"Data set {number} ({dataset}): its fitted model cannot be drawn: {exc}")
            continue
        sets.append(
            {
                "id": f"set-{number}",
                "dataset": dataset,
                "chisq": curve.chisq,
                "plot": plot(data, curve),
            }
        )
    return sets, notes


def asymmetry_plot(first: dict, second: dict) -> dict | None:
    """The asymmetry of two unpolarized data sets measured at the same Q, data and model; None
    otherwise (a polarized data set has its own spin asymmetry)."""
    if "q" not in first["data"] or "q" not in second["data"]:
        return None
    if first["data"]["q"] != second["data"]["q"]:
        return None
    return {
        "q": first["data"]["q"],
        "data": refl1d_adapter.asymmetry(first["data"]["r"], second["data"]["r"]),
        "model": refl1d_adapter.asymmetry(first["curve"]["r"], second["curve"]["r"]),
    }
