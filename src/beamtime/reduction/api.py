"""The reduction engine's stateless RPC: instruments and their modules, data sources and their
files, which nodes are cached, and calculating a terminal (plottable JSON or an export).

Every call carries the whole template; the server keeps none. Errors in a template answer 422
with ``{"error", "node", "field"}`` so the editor can show them on the node.

A caller that sends ``X-Problems: in-body`` (the editor) gets such designed refusals as 200
with the same body and the refusal's status in the ``X-Problem`` header: a browser logs every
4xx answer as a console error, and these are answers the page shows, not faults.

A result the step cache holds is answered at once. Any other is computed on the reduction
pool (``reduction.jobs``): the request waits a moment for it, then answers 202 with the job
``{"id", "url", "state", "step", "steps", …}``; poll its url, and once its state is "done" ask
again (answered from the cache); a "failed" job holds the refusal as its ``error``.
"""

from typing import Literal

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from ninja import Router, Schema, Status

from beamtime.reduction import export, jobs, service, sources
from beamtime.reduction.dataflow.calc import DataType, NotCached
from beamtime.reduction.dataflow.template import Template, TemplateError

router = Router(tags=["reduction"])


class TemplateIn(Schema):
    template: dict
    config: dict = {}


class NodeIn(TemplateIn):
    node: int
    terminal: str = "output"


class CalculateIn(NodeIn):
    export: Literal["text", "hdf5", "orso"] | None = None
    # dQ in the column text: as FWHM (what refl1d and the fitting app read) or as 1-σ
    resolution: Literal["FWHM", "sigma"] = "FWHM"


class FitIn(NodeIn):
    index: int = 0
    # every data set of the output, each a cross-section (++, +-, -+, --), as one polarized
    # data set (``index`` is then not used)
    together: bool = False


class Pending(Exception):
    """The result is being computed on the reduction pool; ``response`` says so (202) or
    gives the refusal the calculation ended with."""

    def __init__(self, response):
        self.response = response


def from_pool(
    request, key: str, body: dict, terminal: str | None = None
) -> tuple[dict, bytes | None]:
    """Queue the job computing what the cache lacks (``key``: what it computes; ``body``: the
    request, see jobs.run) and wait a moment for it: (the job, the plot it handed back for
    ``terminal`` or None) once it has handed one back or is done, else Pending with the 202
    answer, or with the refusal the job ended with."""
    job = jobs.submit(request.user, body, key)
    job = jobs.wait(request.user, job, settings.REDUCTION_WAIT)
    plot = jobs.answer(job, terminal) if terminal is not None else None
    if plot is not None:
        return job, plot
    if job["state"] == "failed":
        raise Pending(refused(request, job["error"], 422))
    if job["state"] != "done":
        raise Pending(JsonResponse(jobs.public(job), status=202))
    return job, None


def pending(job: dict) -> Pending:
    """A done job whose result was evicted at once: the page asks again, which queues it."""
    return Pending(JsonResponse(jobs.public(job), status=202))


def calculated(request, payload: NodeIn, efficiencies=False) -> tuple[list, DataType, dict]:
    """The values at the payload's node and terminal, their data type and their provenance
    (with ``efficiencies``, also the polarization efficiencies they were corrected with, if
    any: ``polarization_used``); TemplateError for a template that cannot run, Pending while
    the pool computes them."""
    template = Template.from_dict(payload.template)
    args = (request.user, template, payload.config, payload.node, payload.terminal)
    try:
        values, datatype, used = service.run(*args, compute=not settings.REDUCTION_IN_WORKERS)
    except NotCached as missing:
        job, _ = from_pool(request, missing.key, {"calculate": payload.model_dump()})
        try:
            values, datatype, used = service.run(*args, compute=False)
        except NotCached:
            raise pending(job) from None
    # The files as read (their mtimes now), not as the client last saw them.
    header = export.provenance(payload.template, used, payload.node, payload.terminal)
    if efficiencies:
        corrections = polarization_used(request, payload)
        if corrections:
            header["polarization"] = corrections
    return values, datatype, header


def plotted(request, payload: CalculateIn):
    """The plot of the payload's node and terminal. One the cache lacks comes back from the
    pool as the job computed it (jobs.answer), without reading the cache. A web process that
    has not imported the reduction's steps yet (its first reduction) does not wait for them:
    the pool, which has them, looks the result up or computes it, and this process imports
    them in the background once it has answered, for the requests after."""
    body = {"calculate": payload.model_dump()}
    if settings.REDUCTION_IN_WORKERS and not service.loaded():
        service.load_after_response()
        # the cache key is unknown here: the job is this user's request
        key = "request:" + service.digest([request.user.pk, body])
        _, found = from_pool(request, key, body, payload.terminal)
        if found is not None:
            return HttpResponse(found, content_type="application/json")
    template = Template.from_dict(payload.template)
    args = (request.user, template, payload.config, payload.node, payload.terminal)
    try:
        values, datatype, _ = service.run(*args, compute=not settings.REDUCTION_IN_WORKERS)
    except NotCached as missing:
        job, found = from_pool(request, missing.key, body, payload.terminal)
        if found is not None:
            return HttpResponse(found, content_type="application/json")
        try:  # too large to hand back: from the cache
            values, datatype, _ = service.run(*args, compute=False)
        except NotCached:
            raise pending(job) from None
    return service.plottable(values, datatype)


def refused(request, body: dict, status: int = 422) -> JsonResponse:
    """A designed refusal: ``status``, or 200 with ``X-Problem: status`` for a caller that
    asked for its problems in the body."""
    if request.headers.get("X-Problems") == "in-body":
        response = JsonResponse(body, status=200)
        response["X-Problem"] = str(status)
        return response
    return JsonResponse(body, status=status)


def template_error(request, exc: TemplateError) -> JsonResponse:
    body = {"error": str(exc), "node": exc.node}
    if exc.terminal:
        body["field"] = exc.terminal
    return refused(request, body)


@router.get("/instruments", summary="Instruments, their modules (with HTML help) and templates")
def instruments(request):
    return service.instrument_definitions()


@router.get("/sources", summary="Data sources")
def list_sources(request):
    return [s.to_dict() for s in sources.SOURCES.values()]


@router.get("/sources/{name}/files", summary="Folders and files at a path of a data source")
def list_files(request, name: str, path: str = ""):
    try:
        source = sources.source(name)
        entries = source.list(sources.clean_path(path), request.user)
    except sources.SourceError as exc:
        return refused(request, {"error": str(exc), "field": "path"}, 404)
    return {
        "source": name,
        "path": sources.clean_path(path),
        "entries": [e.to_dict() for e in entries],
    }


class FilesIn(Schema):
    instrument: str
    files: list[dict]


@router.post("/files/describe", summary="What raw files hold: intent, sample, cross-sections")
def describe_files(request, payload: FilesIn):
    args = (request.user, payload.instrument, payload.files[:500])
    try:
        try:
            return service.file_summaries(*args, compute=not settings.REDUCTION_IN_WORKERS)
        except NotCached as missing:
            body = {"describe": payload.model_dump()}
            job, found = from_pool(request, missing.key, body, jobs.DESCRIBED)
            if found is not None:  # as the job found them (a file not fetched is not cached)
                return HttpResponse(found, content_type="application/json")
            try:  # too large to hand back: from the cache
                return service.file_summaries(*args, compute=False)
            except NotCached:
                raise pending(job) from None
    except TemplateError as exc:
        return refused(request, {"error": str(exc), "field": "instrument"}, 422)
    except Pending as waiting:
        return waiting.response


@router.post("/cached", summary="Which nodes of a template are in the cache")
def cached(request, payload: TemplateIn):
    try:
        template = Template.from_dict(payload.template)
        return {"cached": service.cached_nodes(request.user, template, payload.config)}
    except TemplateError as exc:
        return template_error(request, exc)


@router.post("/calculate", summary="Calculate a node's output: plottable JSON or an export")
def calculate(request, payload: CalculateIn):
    try:
        if payload.export is None:
            return plotted(request, payload)
        values, datatype, header = calculated(request, payload, efficiencies=True)
    except TemplateError as exc:
        return template_error(request, exc)
    except Pending as waiting:
        return waiting.response
    try:
        if not values:  # e.g. a loader of no files: an empty file would say nothing
            raise ValueError(f"node {payload.node}: nothing to export")
        if payload.export == "text":
            header = {**header, "resolution": payload.resolution}
        name, data, media = export.export(values, datatype, header, payload.export)
    except ValueError as exc:  # e.g. ORSO of data that are no reflectivity
        body = {"error": str(exc), "node": payload.node, "field": "export"}
        return refused(request, body, 422)
    response = HttpResponse(data, content_type=media)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/jobs/{job_id}", url_name="reduction_job", summary="A calculation's progress")
def job(request, job_id: str):
    found = jobs.get(request.user, job_id)
    if found is None:
        return refused(request, {"error": "no such calculation (or it ended an hour ago)"}, 404)
    return jobs.public(found)


MAX_LOOKUP_NODES = 500


@router.post("/fits", summary="Your data sets and fits made from this reduction's output")
def made_from(request, payload: TemplateIn):
    """Every data set of the caller's made from one of this template's outputs (by *Fit this
    data* or an uploaded export), each with the node it came from and its fits; nobody
    else's. The same reduction is recognized whatever else the template holds now."""
    from django.urls import reverse

    from beamtime.fitting.models import Dataset

    try:
        nodes = Template.from_dict(payload.template).nodes
    except TemplateError as exc:
        return template_error(request, exc)
    if len(nodes) > MAX_LOOKUP_NODES:
        message = f"{len(nodes)} nodes: the fits of at most {MAX_LOOKUP_NODES} are looked up"
        return refused(request, {"error": message})
    by_node = export.fingerprints(payload.template, payload.config, range(len(nodes)))
    keys = {}  # each reduction's first node
    for index, key in by_node.items():
        keys.setdefault(key, index)
    found = []
    mine = Dataset.objects.filter(owner=request.user).exclude(instrument="upload")
    for dataset in mine.prefetch_related("fit_jobs"):
        p = dataset.provenance or {}
        node = keys.get(export.fingerprint(p.get("template"), p.get("config"), p.get("node")))
        if node is None:
            continue
        found.append(
            {
                "dataset": dataset.pk,
                "name": dataset.name,
                "node": node,
                "cross_sections": list(dataset.cross_section_texts),
                "points": dataset.points,
                "created_at": dataset.created_at,
                "url": reverse("fitting:fit", args=[dataset.instrument, dataset.pk]),
                "fits": [
                    {
                        "id": job.pk,
                        "engine": job.engine,
                        "state": job.state,
                        "chisq": job.chisq,
                        "url": reverse("fitting:job", args=[job.pk]),
                    }
                    for job in dataset.fit_jobs.all()
                    if job.owner_id == request.user.pk
                ],
            }
        )
    return {"datasets": found}


@router.post("/fit", response={201: dict}, summary="Fit this data: a data set in the fitting app")
def fit_this(request, payload: FitIn):
    """The text export of one data set of a node's output becomes the caller's data set in the
    fitting app, its provenance kept; the answer says where to fit it."""
    from django.urls import reverse

    from beamtime.fitting.data import DataError
    from beamtime.fitting.models import Dataset

    try:
        values, datatype, header = calculated(request, payload, efficiencies=True)
    except TemplateError as exc:
        return template_error(request, exc)
    except Pending as waiting:
        return waiting.response
    if payload.together:
        return fit_together(request, payload, values, datatype, header)
    if not 0 <= payload.index < len(values):
        return refused(
            request, {"error": f"no data set {payload.index} here", "field": "index"}, 422
        )
    text = export.text_file(values[payload.index], datatype, {**header, "index": payload.index})
    name = datatype.metadata(values[payload.index]).get("name", "reduced data")
    try:
        dataset = Dataset.from_upload(request.user, name, text.encode())
    except DataError as exc:
        return refused(request, {"error": f"not fit for fitting: {exc}", "node": payload.node}, 422)
    url = reverse("fitting:fit", args=[dataset.instrument, dataset.pk])
    return Status(201, {"dataset": dataset.pk, "url": url})


def fit_together(request, payload: FitIn, values: list, datatype: DataType, header: dict):
    """The output's data sets, the cross-sections of a polarized measurement, as one polarized
    data set of the caller's; its provenance (``header``) holds the polarization efficiencies
    the output was corrected with (``polarization``)."""
    from django.urls import reverse

    from beamtime.fitting.data import DataError, parse_data, with_resolution
    from beamtime.fitting.models import Dataset
    from beamtime.fitting.polarized import CROSS_SECTIONS

    def refuse(message: str):
        return refused(request, {"error": message, "node": payload.node, "field": "index"}, 422)

    sections, names = {}, {}
    for index, value in enumerate(values):
        meta = datatype.metadata(value)
        name, xs = meta.get("name", f"data set {index}"), meta.get("polarization")
        if xs not in CROSS_SECTIONS:
            return refuse(f"{name}: no cross-section of polarized data (polarization {xs!r})")
        if xs in sections:
            return refuse(f"{name}: {names[xs]} is {xs} already: fit one data set at a time")
        text = export.text_file(value, datatype, {**header, "index": index})
        try:
            sections[xs] = with_resolution(parse_data(text.encode()), "fwhm")
        except DataError as exc:
            return refuse(f"not fit for fitting: {name} ({xs}): {exc}")
        names[xs] = name
    if not sections:
        return refuse("no data sets here")
    common = {name.rsplit(":", 1)[0] for name in names.values()}
    title = " + ".join(sorted(common)) + " (" + " ".join(sections) + ")"
    dataset = Dataset.polarized(request.user, title[:200], sections, header)
    url = reverse("fitting:fit", args=[dataset.instrument, dataset.pk])
    return Status(201, {"dataset": dataset.pk, "url": url})


def polarization_used(request, payload: NodeIn) -> list[dict]:
    """The polarization efficiencies the payload's output was corrected with: for each
    correction upstream, the estimate wired into it — its node, title, controls and, per slit
    setting, each efficiency with its uncertainty (fp, rp front and rear polarizer, ff, rf
    front and rear flipper, beta half the beam intensity; null where not finite)."""
    template = Template.from_dict(payload.template)
    seen, todo, used = set(), [payload.node], []
    while todo:
        node = todo.pop()
        if node in seen or not 0 <= node < len(template.nodes):
            continue
        seen.add(node)
        wires = template.parents(node)
        todo += [w["source"][0] for w in wires]
        if not template.nodes[node]["module"].endswith(".correct_polarization"):
            continue
        for wire in wires:
            if wire["target"][1] != "polarization":
                continue
            source, terminal = wire["source"]
            asked = NodeIn(
                template=payload.template, config=payload.config, node=source, terminal=terminal
            )
            values, datatype, _ = calculated(request, asked)
            used.append(
                {
                    "node": source,
                    "title": template.nodes[source].get("title", ""),
                    "module": template.nodes[source]["module"],
                    "corrected_by": node,
                    "values": [_plain(datatype, v) for v in values],
                }
            )
    return sorted(used, key=lambda u: u["node"])


def _plain(datatype: DataType, value) -> dict:
    """A value's metadata and columns as JSON (numbers; null for NaN or infinity)."""
    import math

    import numpy as np

    columns = {
        k: [x if math.isfinite(x) else None for x in np.asarray(c, dtype=float).ravel().tolist()]
        for k, c in datatype.columns(value).items()
    }
    return {**datatype.metadata(value), **columns}
