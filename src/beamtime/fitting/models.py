"""Reflectivity data sets, saved models and fit jobs; every row belongs to one user."""

import re
import threading
from collections import OrderedDict
from types import MappingProxyType

from django.conf import settings
from django.db import models

from beamtime.fitting import orso, polarized
from beamtime.fitting.data import (
    DQ_COLUMNS,
    MAX_BYTES,
    DataError,
    ReflData,
    parse_data,
    with_resolution,
)
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.polarized import CROSS_SECTIONS
from beamtime.reduction.export import read_provenance

# Parsed data sets by (id, hash of the text), most recent last: evaluating does not parse again.
# At most 100 000 points × 4 columns × 8 bytes = 3.2 MB each.
PARSED_KEPT = 8
_PARSED: OrderedDict = OrderedDict()
_PARSED_LOCK = threading.Lock()


def dataset_name(name: str, default: str = "") -> str:
    """A data set's name as stored: the one given, else ``default``, trimmed and cut to the
    field's length (the database may not enforce it)."""
    limit = Dataset._meta.get_field("name").max_length
    return (name.strip() or default.strip())[:limit]


class Dataset(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets"
    )
    name = models.CharField(max_length=200)
    instrument = models.SlugField(max_length=50, default="upload")
    tags = models.CharField(max_length=200, blank=True)
    # The file as uploaded (text): what the data are, and what a refl1d script reads.
    content = models.TextField()
    points = models.PositiveIntegerField()
    # The resolution, as the uploader said: what a 4th column is; for 3 columns, dQ/Q (FWHM).
    dq_column = models.CharField(max_length=5, choices=list(DQ_COLUMNS.items()), default="fwhm")
    dq_over_q = models.FloatField(null=True, blank=True)
    # Where the data came from when Beamtime produced them (a reduction export's header).
    provenance = models.JSONField(default=dict, blank=True)
    # What the file said about itself: for an ORSO file its header (YAML) and data sets.
    metadata = models.JSONField(default=dict, blank=True)
    # Polarized data: {"++": text, "--": text, …}, each cross-section present as 4 columns
    # Q R dR dQ (FWHM); {} for unpolarized data. ``content`` then holds the first of them.
    cross_section_texts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def data(self):
        """The parsed data; parsed once per process (a few recent data sets are kept)."""

        def parse():
            parsed = parse_data(self.content.encode(), stored=True)
            if parsed.dq is not None or self.dq_over_q is not None:  # else stored before dQ/Q
                parsed = with_resolution(parsed, self.dq_column, self.dq_over_q)
            return parsed

        return _parsed_once((self.pk, hash(self.content), self.dq_column, self.dq_over_q), parse)

    @property
    def is_polarized(self) -> bool:
        return bool(self.cross_section_texts)

    def cross_sections(self) -> "MappingProxyType[str, ReflData]":
        """The cross-sections present ("++", "+-", "-+", "--", in this order), each with dQ as
        FWHM like ``data()``; empty for unpolarized data. Parsed once per process."""
        texts = self.cross_section_texts
        key = ("cross-sections", self.pk, tuple((xs, hash(texts[xs])) for xs in sorted(texts)))

        def parse():
            return MappingProxyType(
                {  # 3 columns: stored so for no resolution (dQ 0, which a file may not say)
                    xs: with_resolution(parse_data(texts[xs].encode(), stored=True), "fwhm", 0.0)
                    for xs in CROSS_SECTIONS
                    if xs in texts
                }
            )

        return _parsed_once(key, parse)

    @classmethod
    def from_upload(
        cls,
        owner,
        name: str,
        content: bytes,
        dq_column: str = "fwhm",
        dq_over_q: float | None = None,
        orso_data_set: int | None = None,
    ) -> "Dataset":
        """A data set from an uploaded file; DataError (naming the line) if it is not one.
        ``dq_column``: what a 4th column is ("fwhm" or "sigma"); ``dq_over_q``: the
        resolution of 3-column data (FWHM fraction; required for them). A reduction export
        keeps its provenance (the reduction that made it). An ORSO file (``.ort``) becomes
        data set ``orso_data_set`` (from 1), dQ 1-σ, with its header kept as ``metadata``;
        without a number, an ORSO file whose data sets are cross-sections (polarization pp, pm,
        mp, mm) becomes one polarized data set, any other its first data set."""
        metadata = {}
        if orso.is_orso(content):
            datasets = orso.load(content)
            together = orso.read_orso_polarized(datasets) if orso_data_set is None else None
            if together is not None:
                texts, metadata, provenance = together
                sections = {
                    xs: with_resolution(parse_data(text.encode()), "sigma", dq_over_q)
                    for xs, text in texts.items()
                }
                return cls.polarized(owner, name, sections, provenance, metadata)
            text, metadata, provenance = orso.read_orso(datasets, orso_data_set or 1)
            content, dq_column = text.encode(), "sigma"
        parsed = parse_data(content)
        data = with_resolution(parsed, dq_column, dq_over_q)
        if not metadata:
            text = content.decode("utf-8-sig")
            try:
                provenance = read_provenance(text)
            except ValueError:  # not an export: a plain data file has no provenance
                provenance = {}
        return cls.objects.create(
            owner=owner,
            name=dataset_name(name),
            content=text,
            points=len(data),
            dq_column=dq_column,
            dq_over_q=dq_over_q if parsed.dq is None else None,  # a 4th column says dQ
            instrument=_instrument(provenance),
            provenance=provenance,
            metadata=metadata,
        )

    @classmethod
    def from_cross_section_files(
        cls, owner, name: str, uploads, dq_column: str = "fwhm", dq_over_q: float | None = None
    ) -> "Dataset":
        """A polarized data set of ``uploads``: (uploaded file, its cross-section or "" to read
        it from the file name) pairs; DataError (naming the file) stores nothing."""
        polarized.check_count(len(uploads))
        for upload, _ in uploads:
            if upload.size > MAX_BYTES:
                raise DataError(f"{upload.name}: larger than the limit of {MAX_BYTES // 2**20} MiB")
        files = [(upload.name, upload.read(), xs) for upload, xs in uploads]
        sections = polarized.read_files(files, dq_column, dq_over_q)
        default = " + ".join(upload.name for upload, _ in uploads)
        return cls.polarized(owner, dataset_name(name, default), sections)

    @classmethod
    def polarized(
        cls, owner, name: str, sections: dict[str, ReflData], provenance=None, metadata=None
    ) -> "Dataset":
        """A polarized data set of ``sections`` ({"++": ReflData with dQ as FWHM, …})."""
        texts = {xs: _text(sections[xs]) for xs in CROSS_SECTIONS if xs in sections}
        if not texts:
            raise DataError("cross-sections: none given")
        provenance = provenance or {}
        return cls.objects.create(
            owner=owner,
            name=dataset_name(name),
            content=next(iter(texts.values())),
            points=sum(len(sections[xs]) for xs in texts),
            dq_column="fwhm",
            instrument=_instrument(provenance),
            provenance=provenance,
            metadata=metadata or {},
            cross_section_texts=texts,
        )

    def provenance_files(self) -> list[dict]:
        """The raw files the reduction read, as its load nodes name them."""
        found = []
        nodes = self.provenance.get("template", {}).get("nodes", [])
        for index, node in enumerate(nodes):
            config = {
                **node.get("config", {}),
                **self.provenance.get("config", {}).get(str(index), {}),
            }
            found += [f for f in config.get("filelist", []) if isinstance(f, dict)]
        return found


def _text(data: ReflData) -> str:
    """The stored text of a cross-section: Q R dR dQ (FWHM), or Q R dR for no resolution."""
    if data.dq is not None and not data.dq.any():
        data = ReflData(data.q, data.r, data.dr, None)
    return data.to_text()


def _parsed_once(key, parse):
    """What ``parse()`` gives (a ReflData, or a mapping of them), kept read-only under
    ``key`` and given again while it is among the PARSED_KEPT most recently used."""
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    parsed = parse()
    for data in parsed.values() if isinstance(parsed, MappingProxyType) else [parsed]:
        for column in data._columns():  # shared between requests: nobody may change it
            column.flags.writeable = False
    with _PARSED_LOCK:
        _PARSED[key] = parsed
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return parsed


def _instrument(provenance) -> str:
    """The instrument a reduction export names, as a URL part (``/fit/<instrument>/<id>``);
    ``upload`` when there is none or it is not a plain name."""
    template = provenance.get("template") if isinstance(provenance, dict) else None
    name = template.get("instrument") if isinstance(template, dict) else None
    slug = re.sub(r"[^-a-zA-Z0-9_]+", "-", name).strip("-")[:50] if isinstance(name, str) else ""
    return slug or "upload"


class SavedModel(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fit_models"
    )
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    model = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return self.title or f"model {self.pk}"

    def layer_model(self) -> LayerModel:
        return LayerModel.from_dict(self.model)

    def layer_names(self) -> str:
        return ", ".join(
            layer["name"]
            for layer in [self.model["front"], *self.model["layers"], self.model["back"]]
        )


class FitJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    STATES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED, CANCELLED)]
    FINISHED = (DONE, FAILED, CANCELLED)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fit_jobs"
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fit_jobs")
    model = models.JSONField()  # the start model
    # Co-refinement: the other data sets with their start models, and the parameters all share.
    partners = models.JSONField(default=list, blank=True)  # [{"dataset": id, "model": {...}}]
    shared = models.JSONField(default=list, blank=True)  # ["A.thickness", ...]
    engine = models.CharField(max_length=10)
    options = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=STATES, default=QUEUED)
    cancel_requested = models.BooleanField(default=False)
    step = models.PositiveIntegerField(default=0)
    chisq = models.FloatField(null=True)
    percent = models.FloatField(null=True)
    message = models.TextField(blank=True)
    result = models.JSONField(null=True)  # values, errors, chisq, model
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat = models.DateTimeField(null=True)  # last progress report of a running fit

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"fit {self.pk} of {self.dataset}"

    @property
    def finished(self) -> bool:
        return self.state in self.FINISHED

    def to_dict(self) -> dict:
        return {
            "id": self.pk,
            "dataset": self.dataset_id,
            "engine": self.engine,
            "options": self.options,
            "state": self.state,
            "step": self.step,
            "chisq": self.chisq,
            "percent": self.percent,
            "message": self.message,
            "result": self.result,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


class FitPreferences(models.Model):
    """The engine and options a user fits with, remembered between sessions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fit_preferences"
    )
    engine = models.CharField(max_length=10, default="lm")
    options = models.JSONField(default=dict)

    def __str__(self):
        return f"{self.user}: {self.engine}"

    @classmethod
    def of(cls, user) -> "FitPreferences":
        return cls.objects.get_or_create(user=user)[0]


class FitDraws(models.Model):
    """A DREAM fit's posterior draws: at most refl1d_adapter.MAX_DRAWS rows × its parameters,
    as a float64 .npy, kept apart from the job so that listing jobs never reads them."""

    job = models.OneToOneField(FitJob, on_delete=models.CASCADE, related_name="draws")
    labels = models.JSONField()  # the columns, as the job's result names the parameters
    points = models.BinaryField()

    def __str__(self):
        return f"draws of {self.job}"

    def array(self):
        from beamtime.fitting.posterior import from_npy

        return from_npy(self.points, len(self.labels))
