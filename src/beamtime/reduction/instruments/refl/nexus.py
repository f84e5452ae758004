"""Raw NICE NeXus/HDF5 reflectometry files (NCNR PBR, MAGIK) as ReflScan records.

A file holds one HDF5 group ("entry") per polarization cross-section (DOWN_DOWN, UP_UP, …).
Per-point values come from the entry's DAS_logs: in the PBR files the NeXus summary groups
(`control`, `data`) hold the first point only, although their `target` attributes name the
DAS_logs arrays.
A device that did not move during the scan, or a counter that counted once for several points,
is written once; its value is repeated over the scan's points (NICE's scan length where the file
has it, else the length of the first counter holding more than one value, as reductus does).

Instrument constants are read where the entry holds them, as reductus reads them: the slits'
distances from the sample (``instrument/presample_slit1/distance``, ``presample_slit2``,
``predetector_slit1``, ``predetector_slit2``), the 1-σ wavelength spread
(``instrument/monochromator/wavelength_error``; else 1.5 % FWHM of λ) and the dead times of
the monitor (``control/monitor/dead_time``) and the detector
(``instrument/single_detector/dead_time``), each converted from its ``units`` attribute. The
NCNR PBR files hold none of them.

Anything wrong with a file becomes a NexusError whose one-line message names the file, the entry
and the field, because it is shown as-is to the person who uploaded the file.
"""

import math
import os
from dataclasses import dataclass, fields

import h5py
import numpy as np

from beamtime.reduction.instruments.refl.numerics import FWHM_TO_SIGMA

# Not in the files (README of the PBR test data): dλ/λ = 1.5 % FWHM for the PBR monochromator.
WAVELENGTH_SPREAD_FWHM = 0.015

COUNTS = "DAS_logs/counter/liveROI"
SCAN_LENGTH = "trajectory/liveScanLength"
MONITOR = "DAS_logs/counter/liveMonitor"
COUNT_TIME = "DAS_logs/counter/liveTime"
SAMPLE_ANGLE = "DAS_logs/sampleAngle/softPosition"
DETECTOR_ANGLE = "DAS_logs/detectorAngle/softPosition"
SLITS = tuple(f"DAS_logs/slitAperture{k}/softPosition" for k in range(1, 5))
# What NICE aimed at, by field of ReflScan.
TARGETS = {
    "sample_angle_target": "DAS_logs/sampleAngle/desiredSoftPosition",
    "detector_angle_target": "DAS_logs/detectorAngle/desiredSoftPosition",
    "slit1_target": "DAS_logs/slitAperture1/desiredSoftPosition",
    "slit2_target": "DAS_logs/slitAperture2/desiredSoftPosition",
}
# The NeXus place first; NICE writes the PBR wavelength only to DAS_logs.
WAVELENGTH = ("instrument/monochromator/wavelength", "DAS_logs/wavelength/wavelength")
SCAN_TYPE = "DAS_logs/trajectoryData/_scanType"
QZ_TARGET = ("DAS_logs/q/z", "DAS_logs/trajectoryData/_q")
SAMPLE_NAME = ("sample/name", "DAS_logs/sample/name")
DESCRIPTION = ("sample/description", "DAS_logs/sample/description")
INSTRUMENT = "instrument/name"  # "NCNR PBR" in every PBR file
START = "start_time"
SATURATION = tuple(f"control/countrate_correction/{k}" for k in ("measured_rate", "correction"))
# Instrument constants a NICE file may hold (reductus reads them; the PBR files hold none):
# the slits' distances from the sample (slits 1 and 2 before it, 3 and 4 after), the
# monochromator's 1-σ wavelength spread, the counters' dead times (τ_NP, or τ_NP and τ_P).
DISTANCES = (
    "instrument/presample_slit1/distance",
    "instrument/presample_slit2/distance",
    "instrument/predetector_slit1/distance",
    "instrument/predetector_slit2/distance",
)
WAVELENGTH_ERROR = "instrument/monochromator/wavelength_error"
MONITOR_DEAD_TIME = "control/monitor/dead_time"
DETECTOR_DEAD_TIME = "instrument/single_detector/dead_time"
# NeXus unit names (the field's "units" attribute) and their size in mm, in Å, in µs; a
# field without units is taken in the unit wanted (mm, Å, µs), as reductus takes it.
_MM = {"m": 1e3, "cm": 10.0, "mm": 1.0, "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "micron": 1e-3}
_MM |= {"nm": 1e-6, "A": 1e-7, "Ang": 1e-7, "Å": 1e-7, "angstrom": 1e-7, "Angstrom": 1e-7}
_MM |= {"meter": 1e3, "metre": 1e3, "millimeter": 1.0, "millimetre": 1.0, "centimeter": 10.0}
_ANG = {name: mm * 1e7 for name, mm in _MM.items()}
_US = {"s": 1e6, "ms": 1e3, "us": 1.0, "µs": 1.0, "μs": 1.0, "ns": 1e-3}
_US |= {"second": 1e6, "millisecond": 1e3, "microsecond": 1.0, "nanosecond": 1e-3}
FRONT_SPIN = "DAS_logs/frontPolarization/direction"
BACK_SPIN = "DAS_logs/backPolarization/direction"

# Far beyond any scan (NICE writes a few hundred points), far below a machine's memory.
MAX_FIELD_BYTES = 64 * 1024 * 1024

_SIGN = {"DOWN": "-", "UP": "+"}
_NO_SPIN = ("", "BEAM_OUT", "UNPOLARIZED")  # a flipper direction that adds no sign
_ARRAYS = (
    "counts",
    "monitor",
    "count_time",
    "sample_angle",
    "detector_angle",
    "slit1",
    "slit2",
    "slit3",
    "slit4",
    "qz_target",
    *TARGETS,
)
# h5py reports damaged files with any of these, depending on where the damage is.
_H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError, OverflowError)


class NexusError(ValueError):
    """A file that cannot be read as a reflectometry scan, worded for the person who sent it."""

    def __init__(self, file: str, message: str, entry: str = "", field: str = "") -> None:
        super().__init__(file, message, entry, field)  # all in args, so it survives pickling
        self.file, self.message, self.entry, self.field = file, message, entry, field

    def __str__(self) -> str:
        parts = [self.file]
        if self.entry:
            parts.append(f"entry {self.entry}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join([*parts, " ".join(self.message.split())])


@dataclass(eq=False, kw_only=True)
class InstrumentConstants:
    """The instrument constants a file may hold (DISTANCES, WAVELENGTH_ERROR, the dead
    times), NaN where it holds none: the slits' distances from the sample in mm, signed as
    NICE writes them (negative before the sample); the wavelength's 1-σ spread in Å; the
    monitor's and detector's non-paralyzing and paralyzing dead times in µs. A raw scan
    (ReflScan) and the data reduced from it (ReflData) carry them alike."""

    distance1: float = math.nan
    distance2: float = math.nan
    distance3: float = math.nan
    distance4: float = math.nan
    wavelength_error: float = math.nan
    monitor_tau_NP: float = math.nan
    monitor_tau_P: float = math.nan
    detector_tau_NP: float = math.nan
    detector_tau_P: float = math.nan

    def __post_init__(self) -> None:
        for name in CONSTANTS:
            setattr(self, name, float(getattr(self, name)))


CONSTANTS = tuple(f.name for f in fields(InstrumentConstants))


@dataclass(eq=False)
class ReflScan(InstrumentConstants):
    """One polarization cross-section of one file. Arrays hold one float64 value per point.

    Angles in degrees, slit openings in mm, count time in s, wavelength and its 1-σ spread in Å.
    `intent` is NICE's `_scanType` as stored (SPEC, SLIT, BG, ROCK, …), "" when the file has none.
    """

    name: str  # "<file>:<entry>", e.g. "mli0115.nxs.pbr:UP_UP"
    polarization: str  # front and back: "--", "-+", "+-", "++"; "+", "-" half; "" none
    intent: str
    counts: np.ndarray
    monitor: np.ndarray
    count_time: np.ndarray
    sample_angle: np.ndarray
    detector_angle: np.ndarray
    slit1: np.ndarray
    slit2: np.ndarray
    slit3: np.ndarray
    slit4: np.ndarray
    wavelength: float
    wavelength_spread: float
    sample_name: str
    description: str
    start: str
    # NICE's target Qz per point (DAS_logs/q/z), NaN where the file has none.
    qz_target: np.ndarray | None = None
    # NICE's targets per point (TARGETS), NaN where the file has none.
    sample_angle_target: np.ndarray | None = None
    detector_angle_target: np.ndarray | None = None
    slit1_target: np.ndarray | None = None
    slit2_target: np.ndarray | None = None
    # The monitor's saturation curve (NG7: control/countrate_correction), [rates, efficiencies]
    # in increasing rate; None where the file has none.
    monitor_saturation: list | None = None
    # the instrument's name (instrument/name), "" where the file has none
    instrument: str = ""

    def __post_init__(self) -> None:
        for name in ("qz_target", *TARGETS):
            if getattr(self, name) is None:
                setattr(self, name, np.full(np.shape(self.counts), np.nan))
        for name in _ARRAYS:
            # np.array copies: a scan never shares memory with the caller's arrays.
            setattr(self, name, np.array(getattr(self, name), dtype=np.float64))
            if getattr(self, name).shape != self.counts.shape or self.counts.ndim != 1:
                raise ValueError(f"{name} must hold one value per point")
        self.wavelength = float(self.wavelength)
        self.wavelength_spread = float(self.wavelength_spread)
        super().__post_init__()

    def __len__(self) -> int:
        return len(self.counts)

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ would compare arrays with ==, which has no truth value.
        if not isinstance(other, ReflScan):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    def to_dict(self) -> dict:
        """Every field, JSON-ready: arrays as lists, NaN and ±inf as "nan", "inf", "-inf"."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                out[f.name] = [_json_float(v) for v in value.tolist()]
            elif isinstance(value, float):
                out[f.name] = _json_float(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ReflScan":
        """The inverse of to_dict: from_dict(s.to_dict()) == s, bit for bit."""
        return cls(**{f.name: d[f.name] for f in fields(cls)})


def wavelength_sigma(wavelength: float, wavelength_error: float) -> float:
    """The 1-σ wavelength spread in Å: the file's ``wavelength_error`` (NaN where it has
    none), else reductus' fallback, 1.5 % FWHM of λ."""
    if math.isfinite(wavelength_error):
        return wavelength_error
    return WAVELENGTH_SPREAD_FWHM * wavelength * FWHM_TO_SIGMA


def load_nexus(
    path_or_bytes: str | os.PathLike | bytes, name: str = "", entries: list[str] | None = None
) -> list[ReflScan]:
    """Read every entry (cross-section) of a NICE NeXus file, in the file's entry order; only
    those named in `entries` when it is given (a name the file lacks is a NexusError).

    `name` labels the scans and error messages; it defaults to the file's base name. Raise
    NexusError for any content that is not a readable reflectometry scan; TypeError only for an
    argument that is neither a path nor bytes.
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        label = name or "<upload>"
        raw = bytes(path_or_bytes)  # HDF5 reads these very bytes: kept until it is closed
        source: str | h5py.h5f.FileID = _file_image(label, raw)
    elif isinstance(path_or_bytes, str | os.PathLike):
        source = os.fspath(path_or_bytes)
        label = name or os.path.basename(source)
    else:
        raise TypeError(f"expected a path or bytes, not {type(path_or_bytes).__name__}")
    try:
        with h5py.File(source, "r") as root:
            found = []
            for key in root:
                link = root.get(key, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    raise NexusError(label, "links to another file, which is not read", key)
                if isinstance(link, h5py.HardLink) and isinstance(root[key], h5py.Group):
                    found.append(key)
            if not found:
                raise NexusError(label, "no entries (HDF5 groups) in the file")
            missing = [key for key in entries or () if key not in found]
            if missing:
                raise NexusError(label, f"has no entry {missing[0]} (it has {', '.join(found)})")
            chosen = found if entries is None else [key for key in found if key in entries]
            return [_Entry(label, key, root[key].id).scan() for key in chosen]
    except NexusError:
        raise
    except _H5_ERRORS as exc:
        raise NexusError(label, f"not a readable HDF5 file ({exc})") from None


# H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE (HDF5's H5LTpublic.h); without
# H5LT_FILE_IMAGE_OPEN_RW the image is opened read-only, so HDF5 never writes to the bytes.
IMAGE_NOT_COPIED = 0x0002 | 0x0004


def _file_image(label: str, raw: bytes) -> h5py.h5f.FileID:
    """The file in memory, opened read-only by HDF5 itself (its "core" driver): reading it
    through a Python file object (io.BytesIO) made every read a call back into Python, 10–15 %
    of the reading of a file. HDF5 reads ``raw`` where it is, neither copying it (a copy took
    4 ms of a 2.8 MB file once scipy is loaded, 0.1 ms without) nor freeing it: the caller
    keeps ``raw`` until the file is closed."""
    try:
        return h5py.h5f.open_file_image(raw, flags=IMAGE_NOT_COPIED)
    except _H5_ERRORS:  # HDF5 says only "not a file ID"
        raise NexusError(label, "not a readable HDF5 file (no HDF5 file in these bytes)") from None


class _Entry:
    """Reads one entry; every failure names the file, the entry and the field.

    Through h5py's low-level objects (GroupID, DatasetID): the same HDF5 calls as its
    high-level Group and Dataset, without their Python wrappers, which made reading a file
    take two to three times as long."""

    def __init__(self, file: str, name: str, group: h5py.h5g.GroupID) -> None:
        self.file, self.name, self.group = file, name, group
        # path → dataset (or group, on the way), looked up once
        self.found: dict[str, h5py.h5d.DatasetID | None] = {}
        self.nodes: dict[str, h5py.h5g.GroupID | h5py.h5d.DatasetID | None] = {}

    def error(self, field: str, message: str) -> NexusError:
        return NexusError(self.file, message, self.name, field)

    def scan(self) -> ReflScan:
        n = self.length()
        arrays = [
            self.per_point(path, n)
            for path in (COUNTS, MONITOR, COUNT_TIME, SAMPLE_ANGLE, DETECTOR_ANGLE, *SLITS)
        ]
        constants = self.constants()
        wavelength_path = next((p for p in WAVELENGTH if self.has(p)), None)
        if wavelength_path is None:
            raise self.error(" or ".join(WAVELENGTH), "missing")
        wavelength = self.number(wavelength_path)
        if not (math.isfinite(wavelength) and wavelength > 0):
            raise self.error(wavelength_path, f"{wavelength} is not a wavelength")
        return ReflScan(
            f"{self.file}:{self.name}",
            self.polarization(),
            self.text(SCAN_TYPE) if self.has(SCAN_TYPE) else "",
            *arrays,
            wavelength=wavelength,
            wavelength_spread=wavelength_sigma(wavelength, constants["wavelength_error"]),
            sample_name=self.first_text(SAMPLE_NAME),
            description=self.first_text(DESCRIPTION),
            start=self.first_text((START,)),
            qz_target=self.optional_per_point(QZ_TARGET, n),
            **{name: self.optional_per_point((path,), n) for name, path in TARGETS.items()},
            monitor_saturation=self.saturation(),
            **constants,
            instrument=self.first_text((INSTRUMENT,)),
        )

    def constants(self) -> dict[str, float]:
        """The instrument constants the entry holds (ReflScan's CONSTANTS), NaN for the rest:
        a distance finite and not 0, a spread or a dead time finite and not negative."""
        out = dict.fromkeys(CONSTANTS, math.nan)
        for number, path in enumerate(DISTANCES, start=1):
            if self.linked(path):
                (out[f"distance{number}"],) = self.constant(path, _MM, "a length")
                if out[f"distance{number}"] == 0:
                    raise self.error(path, "0 is not a slit's distance from the sample")
        if self.linked(WAVELENGTH_ERROR):
            (out["wavelength_error"],) = self.constant(WAVELENGTH_ERROR, _ANG, "a length", 0)
        for counter, path in (("monitor", MONITOR_DEAD_TIME), ("detector", DETECTOR_DEAD_TIME)):
            if self.linked(path):
                taus = self.constant(path, _US, "a time", 0, count=2)
                out[f"{counter}_tau_NP"], out[f"{counter}_tau_P"] = [*taus, 0.0][:2]
        return out

    def constant(self, path: str, units: dict, kind: str, least=None, count=1) -> list[float]:
        """One number (up to ``count``) converted by ``units`` from the field's ``units``
        attribute (none: taken as it is); not below ``least`` when given."""
        value = self.points(path)
        if not 1 <= len(value) <= count:
            wanted = "one" if count == 1 else f"one to {count}"
            raise self.error(path, f"has {len(value)} values, not {wanted}")
        if not np.all(np.isfinite(value)):
            raise self.error(path, f"{value.tolist()} is not a number")
        if least is not None and np.any(value < least):
            raise self.error(path, f"{value.tolist()} is negative")
        name = self.unit(path)
        if name and name not in units:
            raise self.error(path, f"its unit {name!r} is not {kind}")
        return (value.astype(np.float64) * units.get(name, 1.0)).tolist()

    def unit(self, path: str) -> str:
        """The field's ``units`` attribute, "" when it has none."""
        try:
            value = h5py.Dataset(self.dataset(path)).attrs.get("units", "")
        except _H5_ERRORS as exc:
            raise self.damaged(path, exc) from None
        value = np.asarray(value).reshape(-1)
        item = value[0].item() if value.size == 1 else None
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError:
                item = None
        if not isinstance(item, str):
            raise self.error(path, "its units are not text")
        return item.strip()

    def saturation(self) -> list | None:
        """The measured rates and the efficiency 1/correction at each, by rate."""
        if not all(self.has(path) for path in SATURATION):
            return None
        rate, correction = (self.points(path) for path in SATURATION)
        if len(rate) != len(correction) or not len(rate):
            raise self.error(SATURATION[1], f"has {len(correction)} values for {len(rate)} rates")
        if not np.all(np.isfinite(rate) & np.isfinite(correction) & (correction > 0)):
            raise self.error(SATURATION[1], "must be positive numbers")
        order = np.argsort(rate, kind="stable")
        return [rate[order].tolist(), (1 / correction[order]).tolist()]

    def polarization(self) -> str:
        """Front then back spin, as reductus reads NICE's flipper directions: UP is ``+``,
        DOWN ``-``; a side whose direction is missing, empty, BEAM_OUT or UNPOLARIZED adds
        nothing (``+`` alone: half polarized; ``""``: unpolarized). Two signs that contradict
        an entry named like DOWN_UP are refused."""
        signs = ""
        for path in (FRONT_SPIN, BACK_SPIN):
            direction = self.text(path).strip().upper() if self.has(path) else ""
            if direction not in _SIGN and direction not in _NO_SPIN:
                raise self.error(
                    path, f"{direction!r} is none of UP, DOWN, BEAM_OUT, UNPOLARIZED or empty"
                )
            signs += _SIGN.get(direction, "")
        from_name = "".join(_SIGN.get(part, "?") for part in self.name.split("_"))
        if len(signs) == 2 and len(from_name) == 2 and "?" not in from_name and from_name != signs:
            raise self.error(FRONT_SPIN, f"spins {signs} contradict the entry name")
        return signs

    def dataset(self, path: str) -> h5py.h5d.DatasetID | None:
        """The dataset at `path`, None if there is none. Data kept in other files is refused:
        an uploaded file must not make the server read its files (HDF5 external links,
        external storage and virtual datasets all name other files)."""
        if path not in self.found:
            self.found[path] = self._dataset(path)
        return self.found[path]

    def _dataset(self, path: str) -> h5py.h5d.DatasetID | None:
        node = self._node(path, path)
        if node is None:
            return None
        if not isinstance(node, h5py.h5d.DatasetID):
            raise self.error(path, "is a group, not a dataset")
        try:
            layout = node.get_create_plist()
            elsewhere = layout.get_external_count() > 0 or layout.get_layout() == h5py.h5d.VIRTUAL
        except _H5_ERRORS as exc:
            raise self.damaged(path, exc) from None
        if elsewhere:
            raise self.error(path, "keeps its data in other files, which are not read")
        return node

    def _node(self, path: str, asked: str) -> h5py.h5g.GroupID | h5py.h5d.DatasetID | None:
        """The group or dataset at `path`, None if there is none; each group on the way is
        opened once per entry (the fields share a few groups). Failures name `asked`."""
        if path in self.nodes:
            return self.nodes[path]
        above, _, part = path.rpartition("/")
        parent = self._node(above, asked) if above else self.group
        node = None
        if isinstance(parent, h5py.h5g.GroupID):
            name = part.encode()
            try:
                kind = self.link_kind(parent, name)
                elsewhere = kind == h5py.h5l.TYPE_EXTERNAL
                if kind is not None and not elsewhere:
                    node = self.open(parent, name, kind)
            except _H5_ERRORS as exc:
                raise self.damaged(asked, exc) from None
            if elsewhere:
                raise self.error(asked, "links to another file, which is not read")
        self.nodes[path] = node
        return node

    @staticmethod
    def link_kind(parent: h5py.h5g.GroupID, name: bytes) -> int | None:
        """The kind of ``parent``'s link ``name`` (hard, soft, external), None if there is
        none. One lookup for a link that exists (``name in parent`` would cost three)."""
        try:
            return parent.links.get_info(name).type
        except RuntimeError:  # h5py's word for "no such link", and for worse
            if parent.links.exists(name):
                raise
            return None

    @staticmethod
    def open(parent: h5py.h5g.GroupID, name: bytes, kind: int):
        """The object a link leads to; None for a soft link that leads nowhere (no field)."""
        try:
            return h5py.h5o.open(parent, name)
        except _H5_ERRORS:
            if kind == h5py.h5l.TYPE_SOFT and name not in parent:
                return None
            raise

    def has(self, path: str) -> bool:
        return self.dataset(path) is not None

    def linked(self, path: str) -> bool:
        """Whether the entry has a field at ``path``, for a field most files lack: one look-up
        of the whole path, where ``has`` opens each group on the way (~0.5 ms an entry for the
        instrument constants, which no PBR file holds); a link found is then checked as
        ``has`` checks it."""
        try:
            found = self.group.links.exists(path.encode())
        except _H5_ERRORS:  # a group on the way is missing (or damaged): no such field
            return False
        return found and self.has(path)

    def read(self, path: str) -> np.ndarray:
        node = self.dataset(path)
        if node is None:
            raise self.error(path, "missing")
        try:
            shape, dtype = node.shape, node.dtype
            # A damaged header can claim any shape; refuse before allocating for it.
            size = 1 if shape is None else math.prod(shape)  # None: HDF5's empty dataspace
            value = None
            if size * dtype.itemsize <= MAX_FIELD_BYTES:
                if size and dtype.kind in "iufbS":  # numbers, text of a fixed length
                    value = np.empty(shape, dtype)
                    node.read(h5py.h5s.ALL, h5py.h5s.ALL, value)
                else:  # anything else as h5py's Dataset reads it
                    value = np.asarray(h5py.Dataset(node)[()])
        except _H5_ERRORS as exc:
            raise self.damaged(path, exc) from None
        if value is None:
            raise self.error(path, f"has shape {shape}, far too large for a scan")
        return value

    def damaged(self, path: str, exc: Exception) -> NexusError:
        return self.error(path, f"cannot be read, the file is damaged ({exc})")

    def points(self, path: str) -> np.ndarray:
        """One number per point: shape (n,), or (n, 1) as NICE writes detector counts."""
        value = self.read(path)
        if value.dtype.kind not in "iuf":
            raise self.error(path, f"holds {value.dtype}, not numbers")
        if value.ndim == 0:
            return value.reshape(1)
        if any(size != 1 for size in value.shape[1:]):
            raise self.error(path, f"has shape {value.shape}, not one value per point")
        return value.reshape(value.shape[0])

    def length(self) -> int:
        """The number of points: NICE's scan length where the file has it, else the length of
        the first counter that holds more than one value (as reductus counts them)."""
        if self.has(SCAN_LENGTH):
            n = self.number(SCAN_LENGTH)
            if not (n.is_integer() and n > 0):
                raise self.error(SCAN_LENGTH, f"{n} is not a number of points")
            self.length_from = SCAN_LENGTH
            return int(n)
        for path in (COUNTS, MONITOR, COUNT_TIME):
            n = len(self.points(path))
            if n == 0:
                raise self.error(path, "no points")
            self.length_from = path
            if n > 1:
                break
        return n

    def per_point(self, path: str, n: int) -> np.ndarray:
        value = self.points(path)
        if len(value) == n:
            return value
        if len(value) == 1:  # NICE writes a value that stayed the same once
            return np.repeat(value, n)
        raise self.error(path, f"has {len(value)} values for {n} points (as in {self.length_from})")

    def optional_per_point(self, paths: tuple[str, ...], n: int) -> np.ndarray:
        """The first of these the entry has, one value per point; NaN when none."""
        path = next((p for p in paths if self.has(p)), None)
        return np.full(n, np.nan) if path is None else self.per_point(path, n)

    def number(self, path: str) -> float:
        value = self.points(path)
        if len(value) != 1:
            raise self.error(path, f"has {len(value)} values, not one")
        return float(value[0])

    def text(self, path: str) -> str:
        """A string stored as a scalar or as a one-element array of any shape (NICE uses 1×1)."""
        value = self.read(path)
        if value.size != 1:
            raise self.error(path, f"has shape {value.shape}, not one string")
        item = value.reshape(()).item()
        if isinstance(item, str):
            return item
        if not isinstance(item, bytes):
            raise self.error(path, f"holds {value.dtype}, not text")
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(path, "is not UTF-8 text") from None

    def first_text(self, paths: tuple[str, ...]) -> str:
        """The first of these that the entry has, "" when none."""
        path = next((p for p in paths if self.has(p)), None)
        return "" if path is None else self.text(path)


def _json_float(value: float) -> float | str:
    # JSON has no NaN or infinity; repr() gives "nan", "inf", "-inf", which float() reads back.
    return value if math.isfinite(value) else repr(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b
