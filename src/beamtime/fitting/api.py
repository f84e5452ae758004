"""JSON API for fitting: data sets, instant evaluation, fit jobs, saved models. Everything is
the caller's own: another user's ids answer 404."""

from datetime import datetime

from django.http import HttpResponse
from ninja import Field, File, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from beamtime.core.access import dataset_for, fit_job_for, saved_model_for
from beamtime.fitting import jobs, posterior, refl1d_adapter
from beamtime.fitting.curves import data_of, plot
from beamtime.fitting.data import MAX_BYTES, DataError
from beamtime.fitting.layers import LayerModel, ModelError
from beamtime.fitting.models import Dataset, SavedModel, dataset_name

router = Router(tags=["fitting"])


class DatasetOut(Schema):
    id: int
    name: str
    instrument: str
    tags: str
    points: int
    metadata: dict = Field(description="an ORSO file's header (YAML) and data sets; {} for text")
    cross_sections: list[str] = Field(
        description='polarized data: the cross-sections held ("++", "+-", "-+", "--"); [] if not'
    )
    created_at: datetime

    @staticmethod
    def resolve_cross_sections(dataset) -> list[str]:
        return list(dataset.cross_section_texts)


MODEL = (
    "A layer model: {front, layers, back, scale, background, guide_angle, guide_field, "
    "theta_offset, q_min, q_max, angle, constraints}. "
    "front is the medium the neutrons come in through (e.g. air), layers run from the front "
    "to the back, back is the substrate. Each layer has name, thickness, sld, isld and "
    "roughness, the roughness being the interface on its front side; back has name, sld, "
    "isld and roughness (its interface with the last layer); front has name and sld only "
    "(refl1d ignores its absorption). SLDs in 1e-6/Å², lengths in Å. A number is fixed; "
    "{value, free, min, max} with free true is fitted within [min, max]. constraints maps "
    "LAYER.param to an expression, "
    'e.g. {"B.thickness": "0.1 * A.thickness"}. Magnetism (polarized data): a layer and the '
    "back medium also have rhoM (magnetic SLD, 1e-6/Å², default 0) and thetaM (degrees, "
    "default 270); guide_angle (degrees, default 270) and guide_field (tesla, default 0) are "
    "refl1d's Aguide and H. refl1d's convention: guide_angle 270 is a field in the sample "
    "plane, thetaM 270 a magnetization parallel to it (++ sees sld + rhoM, no spin flip). "
    "theta_offset (degrees, default 0; refl1d's probe.theta_offset) is added to the angle of "
    "every point, which needs the data's angle: angle (degrees, the one angle of a "
    "time-of-flight run; default 0, not given, the offset then 0): a point at Q is computed "
    "at Q·sin(angle + theta_offset)/sin(angle)."
)


class ModelIn(Schema):
    model: dict = Field(description=MODEL)


class EvaluateOut(Schema):
    chisq: float
    q: list[float] = Field([], description="unpolarized data: the model's Q (in its Q range)")
    r: list[float] = Field([], description="unpolarized data: the model's reflectivity")
    cross_sections: dict[str, dict[str, list[float]]] = Field(
        {}, description='polarized data: the model\'s {"q", "r"} per cross-section present'
    )
    asymmetry: dict | None = Field(
        None,
        description="polarized data with ++ and --: the spin asymmetry (R++ − R--)/(R++ + R--) "
        "at the ++ points, data (sa, dsa: propagated error) and model; null where R++ + R-- "
        "= 0, those Q listed in undefined",
    )


class FitSubmission(Schema):
    """A fit to run (named apart from the reduction's FitIn: OpenAPI keys schemas by name)."""

    dataset: int = Field(description="the id of one of your data sets")
    model: dict = Field(description=MODEL)
    engine: str = Field("lm", description="lm, amoeba, de or dream")
    options: dict[str, int] = Field(
        {}, description="steps, burn, samples: whole numbers from 1 to 1 000 000"
    )


class FitOut(Schema):
    id: int
    dataset: int
    engine: str
    options: dict
    state: str
    step: int
    chisq: float | None
    percent: float | None
    message: str
    result: dict | None
    created_at: datetime
    finished_at: datetime | None


class SavedIn(Schema):
    title: str = ""
    notes: str = ""
    model: dict = Field(description=MODEL)


class SavedOut(Schema):
    id: int
    title: str
    notes: str
    model: dict
    updated_at: datetime


def checked(model: dict) -> LayerModel:
    try:
        return LayerModel.from_dict(model)
    except ModelError as exc:
        raise HttpError(422, str(exc)) from None


@router.get("/datasets", response=list[DatasetOut], summary="Your data sets")
def datasets(request):
    return Dataset.objects.filter(owner=request.user)


@router.post(
    "/datasets",
    response={201: DatasetOut},
    summary="Upload a 3- or 4-column data file or ORSO .ort",
)
def upload(
    request,
    file: File[UploadedFile],
    name: str = "",
    dq_column: str = "fwhm",
    dq_over_q: float | None = None,
    data_set: int | None = None,
):
    """``dq_column``: the 4th column is the FWHM (``fwhm``, SNS) or the 1-σ width (``sigma``,
    refl1d's load4, reductus, ORSO) of the resolution; ``dq_over_q``: for 3-column data, the
    constant resolution dQ/Q (FWHM), required (0 for none). An ORSO reflectivity file gives its
    data set number ``data_set`` (from 1; dQ as its header says), its header in ``metadata``;
    without a number, a file whose data sets are each a cross-section (header polarization
    pp, pm, mp, mm) gives one polarized data set of them all, any other its first."""
    if file.size > MAX_BYTES:
        raise HttpError(413, f"file: larger than the limit of {MAX_BYTES // 2**20} MiB")
    try:
        dataset = Dataset.from_upload(
            request.user, dataset_name(name, file.name), file.read(), dq_column, dq_over_q, data_set
        )
        return Status(201, dataset)
    except DataError as exc:
        raise HttpError(422, f"{file.name}: {exc}") from None


@router.post(
    "/datasets/polarized",
    response={201: DatasetOut},
    summary="Upload polarized data: one column file per cross-section (at most four)",
)
def upload_polarized(
    request,
    files: File[list[UploadedFile]],
    cross_sections: str = "",
    name: str = "",
    dq_column: str = "fwhm",
    dq_over_q: float | None = None,
):
    """``cross_sections``: each file's cross-section, comma-separated in the files' order
    (``++,--``; also ``pp``, ``mm`` …); empty: read from the file names (``…_pp.refl``,
    ``…++.txt``). The columns and ``dq_column``, ``dq_over_q`` as for one file."""
    chosen = [xs.strip() for xs in cross_sections.split(",")] if cross_sections.strip() else []
    if chosen and len(chosen) != len(files):
        raise HttpError(422, f"cross_sections: {len(chosen)} given for {len(files)} files")
    pairs = list(zip(files, chosen or [""] * len(files), strict=True))
    try:
        dataset = Dataset.from_cross_section_files(request.user, name, pairs, dq_column, dq_over_q)
        return Status(201, dataset)
    except DataError as exc:
        raise HttpError(422, str(exc)) from None


@router.get("/datasets/{pk}/provenance", summary="The reduction that produced a data set")
def dataset_provenance(request, pk: int):
    """Template, config, node and terminal of the reduction export, {} for a plain upload:
    the reduction page rebuilds the reduction from it."""
    return dataset_for(request.user, pk).provenance


@router.delete("/datasets/{pk}", response={204: None}, summary="Delete a data set and its fits")
def delete_dataset(request, pk: int):
    dataset_for(request.user, pk).delete()
    return Status(204, None)


@router.post(
    "/datasets/{pk}/evaluate", response=EvaluateOut, summary="The model's curve and χ², at once"
)
def evaluate(request, pk: int, payload: ModelIn):
    dataset = dataset_for(request.user, pk)
    data = data_of(dataset)
    try:
        curve = refl1d_adapter.evaluate(checked(payload.model), data)
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    if not dataset.is_polarized:
        return {"chisq": curve.chisq, "q": curve.q, "r": curve.r}
    drawn = plot(data, curve)
    return {
        "chisq": curve.chisq,
        "cross_sections": curve.cross_sections,
        "asymmetry": drawn["asymmetry"],
    }


@router.post("/fits", response={202: FitOut}, summary="Submit a fit; poll GET /fits/{id}")
def submit(request, payload: FitSubmission):
    """422 names what is wrong: an unknown engine or option, no free parameter or more than
    50 (jobs.MAX_FREE)."""
    dataset = dataset_for(request.user, payload.dataset)
    try:
        job = jobs.submit(
            request.user, dataset, checked(payload.model), payload.engine, payload.options
        )
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    return Status(202, job.to_dict())


@router.get("/fits/{pk}", response=FitOut, summary="A fit's progress or result")
def fit(request, pk: int):
    return fit_job_for(request.user, pk).to_dict()


@router.get("/fits/{pk}/posterior", summary="A DREAM fit's posterior (404 for other engines)")
def fit_posterior(request, pk: int):
    """What the sampler used (steps, burn, samples, chains, portion), bumps' convergence test
    (``converged``) and each parameter's statistics with Gelman–Rubin's R̂ (``stats``), the SLD
    profile's percentiles over the draws (``bands``: p2.5, p16, p50, p84, p97.5 and the best
    fit, per data set; under ``rhoM`` the same of a magnetic sample's magnetic SLD), each
    parameter's histogram, the correlation matrix and each pair's 2-D histogram (the corner
    plot's: of the first 12 parameters)."""
    return posterior.details(fit_job_for(request.user, pk))


@router.get("/fits/{pk}/draws.csv", summary="A DREAM fit's posterior draws as CSV")
def fit_draws(request, pk: int):
    return posterior.csv_response(fit_job_for(request.user, pk))


@router.get("/fits/{pk}/posterior/{figure}", summary="A DREAM fit's figure as PNG or SVG")
def fit_figure(request, pk: int, figure: str):
    """``figure``: histograms, corner or profile, then .png or .svg (``corner.svg``)."""
    name, _, fmt = figure.partition(".")
    return posterior.figure_response(fit_job_for(request.user, pk), name, fmt, download=True)


@router.post("/fits/{pk}/cancel", response=FitOut, summary="Stop a fit (its result so far is kept)")
def cancel(request, pk: int):
    job = fit_job_for(request.user, pk)
    jobs.cancel(job)
    job.refresh_from_db()
    return job.to_dict()


@router.get("/models", response=list[SavedOut], summary="Your saved models")
def models(request):
    return SavedModel.objects.filter(owner=request.user)


@router.post("/models", response={201: SavedOut}, summary="Save a model")
def save(request, payload: SavedIn):
    return Status(
        201,
        SavedModel.objects.create(
            owner=request.user,
            title=payload.title[:200],
            notes=payload.notes,
            model=checked(payload.model).to_dict(),
        ),
    )


@router.get("/models/{pk}/script", summary="The model as a refl1d script (reads data.txt)")
def script(request, pk: int):
    """A magnetic model's script reads one file per cross-section instead: data_pp.txt,
    data_pm.txt, data_mp.txt, data_mm.txt (Q R dR dQ-FWHM; those absent are skipped)."""
    model = saved_model_for(request.user, pk).layer_model()
    return HttpResponse(
        refl1d_adapter.to_script(model, refl1d_adapter.data_files(model)),
        content_type="text/x-python",
    )
