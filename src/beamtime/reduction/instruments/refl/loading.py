"""Steps that read raw files and choose among their points."""

from dataclasses import replace

import numpy as np

from beamtime.reduction import sources
from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.nexus import NexusError, load_nexus
from beamtime.reduction.instruments.refl.refldata import ReflData
from beamtime.reduction.instruments.refl.registry import module


@module
def load(filelist=(), intent="auto", Qz_basis="actual"):
    """
    Load NICE NeXus reflectometry files: one data set per polarization cross-section, raw
    detector counts with Poisson uncertainty :math:`\\sigma = \\sqrt{N}` (1 for no counts).
    A value written once (a motor that did not move, a counter read once) is repeated over
    the scan's points. With no files the loader passes nothing on, and the steps it feeds
    pass nothing either: an unused branch of a template just stays empty. What reductus'
    loader (*super_load*) also does is a step of its own here, after this one: *detector
    dead time* and *monitor dead time* (its two corrections), *angular resolution* (its
    sample width) and *normalize* (its base, *auto* alike). Each data set keeps the file's
    instrument name (``instrument/name``, as reductus reads it) and its probe, neutrons
    (for *join*'s grouping). The angular resolution is computed as *angular resolution*
    does with its defaults (as reductus' loader does): from slits 1 and 2 at the file's
    distances (NeXus ``instrument/presample_slit1/distance``, ``presample_slit2/distance``),
    else 2000 and 1000 mm, and the wavelength spread is the file's
    (``instrument/monochromator/wavelength_error``), else 1.5 % FWHM; the file's dead times
    are kept for the dead-time steps. The NCNR PBR files hold none of these.

    **Inputs**

    filelist (fileinfo[]) : the files to load; a file's ``entries`` (e.g.
        ``["DOWN_DOWN", "UP_UP"]``) choose its cross-sections, all of them when absent []

    intent (opt:auto|infer|specular|background+|background-|intensity|rock sample|rock detector|rock qx):
        what the scans measure; *auto* reads NICE's scan type and infers it from the
        angles where the file names none (NICE's "BG" has no sign), *infer* always infers
        it (see *mark intent*) [auto]

    Qz_basis (opt:actual|detector|sample|target) : what Qz is computed from, as reductus'
        loader: *actual* :math:`Q_z = \\frac{2\\pi}{\\lambda}(\\sin(T_d - T_i) + \\sin T_i)`;
        *detector* :math:`\\frac{4\\pi}{\\lambda}\\sin(T_d/2)` (ignoring the sample angle);
        *sample* :math:`\\frac{4\\pi}{\\lambda}\\sin T_i` (ignoring the detector angle);
        *target* the Qz NICE aimed at (the actual formula at the aimed angles where the
        file names none). Steps after it compute Qz the same way [actual]

    **Returns**

    output (refldata[]) : the cross-sections of every file, in file order

    Author: Beamtime team
    Version: 2026-12-07.8
    """  # noqa: E501  (an option list is one line)
    found = []
    for info in filelist:
        entries = info.get("entries")
        if entries is not None and not (
            isinstance(entries, list) and entries and all(isinstance(e, str) for e in entries)
        ):
            raise ParameterError("filelist", f"{info['path']}: entries must name cross-sections")
        name = info["path"].rsplit("/", 1)[-1]
        try:
            scans = load_nexus(sources.fetch(info), name=name, entries=entries)
        except (NexusError, sources.SourceError) as exc:  # a bad file, or one not to be read
            raise ParameterError("filelist", str(exc)) from None
        found.extend(replace(ReflData.from_scan(scan, intent), Qz_basis=Qz_basis) for scan in scans)
    return found


@module(light=True)
def mask_points(data, mask_indices=()):
    """
    Leave out points: click them on the plot of this node's input, or list their indices.

    **Inputs**

    data (refldata[]) : data sets

    mask_indices (index[]) : for each data set in order, the indices of the points to leave
        out (0 is the first point) []

    **Returns**

    output (refldata[]) : the data sets without those points

    Author: Beamtime team
    Version: 2026-11-21
    """
    if len(mask_indices) > len(data):
        raise ParameterError("mask_indices", f"{len(mask_indices)} lists for {len(data)} data sets")
    result = []
    for number, item in enumerate(data):
        masked = mask_indices[number] if number < len(mask_indices) else []
        if masked and masked[-1] >= len(item):
            raise ParameterError(
                "mask_indices", f"data set {number} has no point {masked[-1]} ({len(item)} points)"
            )
        keep = np.ones(len(item), dtype=bool)
        keep[masked] = False
        result.append(item.select(keep))
    return result
