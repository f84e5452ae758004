"""Reference numbers from reductus 1.0.1 (NIST's reflectometry reduction) for NCNR NeXus files,
to compare Beamtime's reduction against. Only reductus' own public steps are called
(reductus.reflred.steps, the functions its web templates wire together); nothing is copied.

Runs ONLY under the separate reductus environment, never Beamtime's (no beamtime import):

    python3 -m venv /work/reductus-env
    /work/reductus-env/bin/pip install "reductus[nexus-files]==1.0.1"   # extra = h5py
    /work/reductus-env/bin/python bench/reductus_harness.py CASE FILE [FILE...] [options]

Every case loads with steps.super_load (the loader of reductus' NCNR templates, default
options: Qz_basis='actual', divergence from slits 1-2, no dead-time correction) but with
base='none' so v = raw counts, then steps.mark_intent('auto') (keeps the file's intent, infers
it where the file has none, e.g. NICE "BG" scans). reductus takes the slit distances, the
wavelength spread and the dead times from the file where it holds them (no PBR file does;
tests/reduction/test_file_constants.py writes them into copies). Cases:

  load                  raw counts v, dv (zero counts: dv = 1), monitor, angles, wavelength
  normalize_monitor     normalize(base='monitor')
  normalize_time        normalize(base='time')
  join                  normalize(monitor, or --base) -> join each intent group (as reductus'
                        templates do) with --q-tolerance, --dq-tolerance, --order,
                        --group-by, --join-tolerance
  rescale               normalize(monitor) -> rescale(--scale, --dscale)
  rescale_engine        super_load(base='none') -> mark_intent -> normalize(monitor) ->
                        rescale(scale=--scales, dscale=--dscales), evaluated by reductus'
                        own engine (dataflow.calc.process_template), which pairs the lists
                        with the data sets of the bundle (one value: for all of them)
  mask                  normalize(monitor) -> mask_points(--mask)
  footprint             normalize(monitor) -> abinitio_footprint(--io, --width, --offset)
                        (--width none: the file's width, infinite for NeXus files)
  background            normalize(monitor) -> join per intent -> subtract_background
                        (pass specular and background files; the sign is inferred)
  divide_intensity      as background (if any given) -> divide_intensity by the joined
                        SLIT scan of the same polarization (pass e.g. mli0159)
  reflectivity          as divide_intensity -> abinitio_footprint(--width, --offset)
                        -> rescale(--scale, --dscale): the predefined templates' last steps
  normalize_roi, normalize_auto, normalize_power, normalize_none   normalize(base=...)
  theta_offset          normalize(monitor) -> theta_offset(--theta-offset)
  back_reflection       normalize(monitor) -> back_reflection
  absolute_angle        normalize(monitor) -> absolute_angle
  sample_broadening     normalize(monitor) -> sample_broadening(--broadening)
  detector_dead_time    detector_dead_time(--nonparalyzing, --paralyzing) -> normalize(monitor)
  monitor_dead_time     monitor_dead_time(--nonparalyzing, --paralyzing) -> normalize(monitor)
  dark_current          dark_current(--dark c1,c2,..., --dark-cov v11,v12,...) -> normalize

--sample-width W loads with super_load(sample_width=W) (the sample as a slit in dT).
--qz-basis B loads with super_load(Qz_basis=B) (actual, detector, sample, target).
--float64-angles casts the sample and detector angles to float64 after loading (reductus
keeps them as read, float32), to tell float32 rounding from a difference of method.
  estimate_polarization normalize(monitor) -> join the intensity scans ->
                        estimate_polarization(--frbalance, --emin, --imin, --clip);
                        params.efficiency holds beta, fp, rp, ff, rf and their d* per setting
  correct_polarization  as background -> correct_polarization(estimate as above,
                        spinflip unless --no-spinflip) of the background-subtracted data;
                        with --footprint, then extract_xs(++) -> fit_footprint ->
                        correct_footprint of each (reductus' polfoot template)
  spin_asymmetry        normalize(monitor) -> join the specular scans -> spin_asymmetry
  fit_footprint         normalize(monitor) -> join the specular scans -> fit_footprint
                        (fit_range [--qmin, --qmax], --origin) -> correct_footprint of
                        each (correction_range [--correct-qmin, --correct-qmax], --slope,
                        --slope-error, --intercept, --intercept-error); params.footprint:
                        p, dp of the fit
  group_by_intent       the loaded data sets, group by group (specular, backp, backm,
                        intensity, rock, other); params.group_sizes says where each ends
  extract_xs            extract_xs(--xs) of the loaded data sets (--xs pm is "+-")
  filter                filter(--key, --comparator, --value) of the loaded data sets
                        (a polarization value with p and m, as --xs)
  fit_dead_time         fit_dead_time(--source, --mode) of the loaded data sets (attenuated
                        first, unattenuated last); params.dead_time holds the fit. Then
                        {detector,monitor}_dead_time with the fitted constants given as
                        controls (reductus 1.0.1 fails on a wired fit: it passes the
                        (value, error) pair on as the constant) -> normalize(monitor)
  monitor_saturation, detector_saturation   the step -> normalize(monitor); each dataset's
                        "mask" says which points reductus keeps
  smooth_slits          normalize(monitor) -> smooth_slits(--degree, --span, --dx); reductus
                        changes v, dv, slit1 and slit2 only (dT, angles keep their length)
  interpolate_background  normalize(monitor) -> join per intent -> interpolate_background(
                        spec, back, None, --align) for each background (+ then -) of the
                        spec's polarization: its outp (reductus 1.0.1's outm repeats outp;
                        after a *_target align the harness reads Q with basis actual)
  background_field      normalize(monitor) -> fit_background_field(the first --backs files;
                        --fit-scale/--no-fit-scale, --bf-scale, --epsd0, --qcutoff) ->
                        subtract_background_field(the other files, --bf-epsd overriding);
                        params.background_field holds the fit; datasets: the fitted
                        background of each scan, then the subtracted data
  mix_cross_sections    normalize(monitor) -> mix_cross_sections(--mix-sf, --mix-nsf) ->
                        join each intent group; params.mixed: the polarizations mixed
  average_flux          the last file the direct beam: normalize(time) -> join -> its --xs
                        cross-section is the base; the others normalize(monitor) ->
                        average_flux(--beam-height); params.flux: reductus' FluxData
                        (its missing module named: see provide_flux_module)
  divergence_fb         ncnr_load (no divergence yet: after super_load divergence_fb does
                        nothing), slit distances the file's, else -2000, -1000
                        (reductus' fallbacks); --distance3, --distance4 mm if given
                        -> divergence_fb -> mark_intent -> normalize(monitor)

--entries A,B loads only those entries (cross-sections) of every file, as a fileinfo's
"entries" does in reductus; --intent X calls mark_intent(intent=X) instead of 'auto'.

Output (stdout): JSON {reductus, case, params, datasets: [...]}, one dataset per cross-section,
arrays per point; non-finite numbers are null. dT, dL and dQ are reductus' 1-sigma values
(dT in degrees, dL in Angstrom, dQ in 1/Angstrom).
"""

import argparse
import copy
import json
import os
import sys
import time
import warnings
from importlib.metadata import version

try:
    import reductus_shim  # noqa: F401  (NICE's 1×1 strings, for reductus)
    from reductus.reflred import steps
except ImportError:
    sys.exit("reductus is missing: run this with /work/reductus-env/bin/python")
import numpy as np

CASES = (
    "load",
    "normalize_monitor",
    "normalize_time",
    "join",
    "rescale",
    "mask",
    "footprint",
    "background",
    "divide_intensity",
    "reflectivity",
    "normalize_roi",
    "normalize_auto",
    "normalize_power",
    "normalize_none",
    "theta_offset",
    "back_reflection",
    "absolute_angle",
    "sample_broadening",
    "detector_dead_time",
    "monitor_dead_time",
    "dark_current",
    "estimate_polarization",
    "correct_polarization",
    "spin_asymmetry",
    "fit_footprint",
    "group_by_intent",
    "extract_xs",
    "filter",
    "fit_dead_time",
    "monitor_saturation",
    "detector_saturation",
    "divergence_fb",
    "smooth_slits",
    "interpolate_background",
    "background_field",
    "mix_cross_sections",
    "average_flux",
    "rescale_engine",
)


def load(files, entries=None, intent="auto", sample_width=None, qz_basis="actual", double=False):
    filelist = [{"source": "local", "path": os.path.abspath(f)} for f in files]
    if entries:
        filelist = [{**info, "entries": entries} for info in filelist]
    loaded = steps.super_load(filelist, base="none", sample_width=sample_width, Qz_basis=qz_basis)
    for d in loaded if double else ():  # reductus keeps the angles read in float32
        d.sample.angle_x = d.sample.angle_x.astype(float)
        d.detector.angle_x = d.detector.angle_x.astype(float)
    return [steps.mark_intent(d, intent=intent) for d in loaded]


def normalize(datasets, base):
    return [steps.normalize(d, base=base) for d in datasets]


def by_polarization(datasets):
    return {d.polarization: d for d in datasets}


def subtract(datasets, align="none"):
    """Join each intent group, then subtract joined backgrounds of the same polarization."""
    spec, backp, backm, intensity, _rock, _other = steps.group_by_intent(datasets)
    spec, backp, backm = (by_polarization(steps.join(g)) for g in (spec, backp, backm))
    out = [
        steps.subtract_background(s, backp.get(p), backm.get(p), align=align)
        for p, s in spec.items()
    ]
    return out, intensity


def provide_flux_module():
    """reductus 1.0.1's average_flux imports FluxData from reductus.dataflow.modules.refl,
    which its package lacks; the class is in reductus.reflred.dataflow: named there."""
    import types

    from reductus.reflred.dataflow import FluxData

    modules = sys.modules.setdefault(
        "reductus.dataflow.modules", types.ModuleType("reductus.dataflow.modules")
    )
    modules.refl = types.ModuleType("reductus.dataflow.modules.refl")
    modules.refl.FluxData = FluxData
    sys.modules["reductus.dataflow.modules.refl"] = modules.refl


def spins(text):
    """A cross-section written with p and m for + and - (argparse swallows a value '--')."""
    return text if text == "unpolarized" else text.replace("p", "+").replace("m", "-")


def run(case, files, a):
    params = {"load": "super_load(base='none', other options default) + mark_intent('auto')"}
    entries = a.entries.split(",") if a.entries else None
    if case == "divergence_fb":
        filelist = [{"source": "local", "path": os.path.abspath(f)} for f in files]
        data = []
        for d in steps.ncnr_load(filelist, check_timestamps=False):
            if a.distance3 is not None or a.distance4 is not None:
                d.slit3.distance, d.slit4.distance = a.distance3, a.distance4
            # else the file's (as reductus reads them), None where it has none
            distances = [d.slit1.distance, d.slit2.distance, d.slit3.distance, d.slit4.distance]
            data.append(steps.mark_intent(steps.divergence_fb(d), intent=a.intent))
        params["divergence_fb"] = dict(distances=[column(x, 1) for x in distances])
        return normalize(data, "monitor"), params | {"normalize": "monitor"}
    data = load(files, entries, a.intent, a.sample_width, a.qz_basis, a.float64_angles)
    if a.float64_angles:
        params["angles"] = "float64"
    if a.sample_width is not None:
        params["sample_width"] = a.sample_width
    if a.qz_basis != "actual":
        params["Qz_basis"] = a.qz_basis
    if a.intent != "auto":
        params["mark_intent"] = a.intent
    if entries:
        params["entries"] = entries
    if case == "load":
        return data, params
    if case == "average_flux":
        beam_name = os.path.basename(files[-1]).split(".")[0]
        beam = [d for d in data if d.name == beam_name]
        spec = normalize([d for d in data if d.name != beam_name], "monitor")
        base = by_polarization(steps.join(normalize(beam, "time")))[spins(a.xs)]
        provide_flux_module()
        flux = steps.average_flux(spec, base, beam_height=a.beam_height).get_metadata()
        plain = json.loads(json.dumps(flux, default=float))
        return [], params | {"average_flux": dict(beam_height=a.beam_height), "flux": plain}
    if case == "group_by_intent":
        groups = steps.group_by_intent(data)
        return [d for g in groups for d in g], params | {"group_sizes": [len(g) for g in groups]}
    if case == "extract_xs":
        xs = spins(a.xs)
        return steps.extract_xs(data, xs=xs), params | {"extract_xs": xs}
    if case == "filter":
        value = spins(a.value) if a.key == "polarization" else a.value
        chosen = dict(key=a.key, comparator=a.comparator, value=value)
        return steps.filter(data, **chosen), params | {"filter": chosen}
    dead_time = dict(nonparalyzing=a.nonparalyzing, paralyzing=a.paralyzing)
    if case == "fit_dead_time":
        fitted = steps.fit_dead_time(data, source=a.source, mode=a.mode)
        params["fit_dead_time"] = dict(source=a.source, mode=a.mode)
        params["dead_time"] = dict(
            tau_NP=list(map(float, fitted.tau_NP)),
            tau_P=list(map(float, fitted.tau_P)),
            attenuators=[list(map(float, x)) for x in fitted.attenuators],
            incident=[column(x, len(x)) for x in fitted.incident_beam],
        )
        dead_time = dict(nonparalyzing=fitted.tau_NP[0], paralyzing=fitted.tau_P[0])
        case = f"{a.source}_dead_time"
    if case in ("monitor_saturation", "detector_saturation"):
        data = [getattr(steps, case)(d) for d in data]
    if case == "detector_dead_time":
        data = [steps.detector_dead_time(d, None, **dead_time) for d in data]
        params["detector_dead_time"] = dead_time
    if case == "dark_current":
        dark = dict(poly_coeff=[float(c) for c in a.dark.split(",")])
        if a.dark_cov:
            dark["poly_cov"] = [float(c) for c in a.dark_cov.split(",")]
        data = steps.dark_current(data, **dark)[0]
        params["dark_current"] = dark
    if case == "monitor_dead_time":
        data = [steps.monitor_dead_time(d, None, **dead_time) for d in data]
        params["monitor_dead_time"] = dead_time
    base = case.removeprefix("normalize_") if case.startswith("normalize_") else a.base
    params["normalize"] = base
    data = normalize(data, base)
    if case.startswith("normalize_") or case.endswith(("_dead_time", "_saturation")):
        return data, params
    if case == "dark_current":
        return data, params
    if case == "mix_cross_sections":
        mix = dict(mix_sf=a.mix_sf, mix_nsf=a.mix_nsf)
        mixed = steps.mix_cross_sections(data, **mix)
        params |= {"mix_cross_sections": mix, "mixed": [d.polarization for d in mixed]}
        return [j for group in steps.group_by_intent(mixed) for j in steps.join(group)], params
    if case == "smooth_slits":
        smooth = dict(degree=a.degree, span=a.span, dx=a.dx)
        return steps.smooth_slits(data, **smooth), params | {"smooth_slits": smooth}
    if case == "interpolate_background":
        spec, backp, backm, *_ = steps.group_by_intent(data)
        spec, backp, backm = (by_polarization(steps.join(g)) for g in (spec, backp, backm))
        out = []
        for side in (backp, backm):
            for p, s in spec.items():
                if p in side:
                    back = steps.interpolate_background(s, side[p], None, align=a.align)[1]
                    # reductus leaves the wavelength columns at the background's length
                    # (Qz then fails); the PBR's is one wavelength: the specular's columns
                    back.detector = copy.copy(back.detector)
                    back.detector.wavelength = s.detector.wavelength
                    back.detector.wavelength_resolution = s.detector.wavelength_resolution
                    if back.Qz_basis.endswith("_target"):  # reductus' Qx refuses this
                        back.Qz_basis = "actual"  # basis; its angles are now specular
                    out.append(back)
        return out, params | {"interpolate_background": dict(align=a.align)}
    if case == "background_field":
        names = [os.path.basename(f).split(".")[0] for f in files[: a.backs]]
        back = [d for d in data if d.name in names]
        spec = [d for d in data if d.name not in names]
        fit = dict(fit_scale=a.fit_scale, scale=a.bf_scale, epsD0=a.epsd0, Qcutoff=a.qcutoff)
        bff, fitted = steps.fit_background_field(back, **fit)
        params["fit_background_field"] = fit
        params["background_field"] = {k: float(v) for k, v in bff.get_metadata().items()}
        override = {} if a.bf_epsd is None else {"epsD": a.bf_epsd}
        params["subtract_background_field"] = override
        return fitted + steps.subtract_background_field(spec, bff, **override), params
    if case == "theta_offset":
        return [steps.theta_offset(d, a.theta_offset) for d in data], params | {
            "theta_offset": a.theta_offset
        }
    if case in ("back_reflection", "absolute_angle"):
        return [getattr(steps, case)(d) for d in data], params
    if case == "sample_broadening":
        return [steps.sample_broadening(d, a.broadening) for d in data], params | {
            "sample_broadening": a.broadening
        }
    if case == "join":
        join = dict(
            Q_tolerance=a.q_tolerance,
            dQ_tolerance=a.dq_tolerance,
            order=a.order,
            group_by=a.group_by,
            tolerance=a.join_tolerance,
        )
        joined = [j for group in steps.group_by_intent(data) for j in steps.join(group, **join)]
        return joined, params | {"join": {"per intent group": join}}
    if case == "rescale":
        return [steps.rescale(d, a.scale, a.dscale) for d in data], params | {
            "rescale": dict(scale=a.scale, dscale=a.dscale)
        }
    if case == "rescale_engine":
        scales, dscales = ([float(x) for x in t.split(",") if x] for t in (a.scales, a.dscales))
        engine = {"scale": scales, "dscale": dscales, "by": "process_template"}
        return engine_rescale(files, scales, dscales), params | {"rescale": engine}
    if case == "mask":
        idx = [int(i) for i in a.mask.split(",")]
        return [steps.mask_points(d, mask_indices=idx) for d in data], params | {
            "mask_indices": idx
        }
    if case == "footprint":
        fp = dict(Io=a.io, width=a.width, offset=a.offset)
        return [steps.abinitio_footprint(d, **fp) for d in data], params | {
            "abinitio_footprint": fp
        }
    if case == "spin_asymmetry":
        (spec, *_rest) = steps.group_by_intent(data)
        return [steps.spin_asymmetry(steps.join(spec))], params
    if case == "fit_footprint":
        joined = steps.join(steps.group_by_intent(data)[0])
        fit = dict(fit_range=[a.qmin, a.qmax], origin=a.origin)
        fitted = steps.fit_footprint(joined, **fit)
        params["footprint"] = {"p": list(map(float, fitted.p)), "dp": list(map(float, fitted.dp))}
        errors = dict(
            correction_range=[a.correct_qmin, a.correct_qmax],
            slope=a.slope,
            slope_error=a.slope_error,
            intercept=a.intercept,
            intercept_error=a.intercept_error,
        )
        out = [steps.correct_footprint(d, copy.deepcopy(fitted), **errors) for d in joined]
        return out, params | {"fit_footprint": fit, "correct_footprint": errors}
    params["join"] = dict(Q_tolerance=0.5, dQ_tolerance=0.002)
    if case in ("estimate_polarization", "correct_polarization"):
        estimate = dict(FRbalance=a.frbalance, Emin=a.emin, Imin=a.imin, clip=a.clip)
        params["estimate_polarization"] = estimate
        intensity = steps.join(steps.group_by_intent(data)[3])
        t0 = time.perf_counter()  # what reductus computes again on every request
        pol = steps.estimate_polarization(intensity, **estimate)
        params["polarization_seconds"] = time.perf_counter() - t0
        if case == "estimate_polarization":
            from reductus.reflred.polarization import polarization_efficiency
            from uncertainties.unumpy import nominal_values, std_devs

            eff = polarization_efficiency(
                pol.beam, Imin=pol.Imin, Emin=pol.Emin, FRbal=pol.FRbal, clip=pol.clip
            )
            params["efficiency"] = {"dtheta": column(eff["dtheta"], len(eff["dtheta"]))}
            for k in ("beta", "fp", "rp", "ff", "rf"):
                n = len(eff["dtheta"])
                params["efficiency"][k] = column(nominal_values(eff[k]), n)
                params["efficiency"]["d" + k] = column(std_devs(eff[k]), n)
            return intensity, params
        out, _intensity = subtract(data)
        params["correct_polarization"] = dict(spinflip=not a.no_spinflip)
        t0 = time.perf_counter()
        out = steps.correct_polarization(out, pol, spinflip=not a.no_spinflip)
        params["polarization_seconds"] += time.perf_counter() - t0
        if a.footprint:  # as reductus' stock polarized-with-footprint template
            fitted = steps.fit_footprint(steps.extract_xs(out, xs="++"))
            params["footprint"] = "extract_xs(++) -> fit_footprint -> correct_footprint"
            out = [steps.correct_footprint(d, copy.deepcopy(fitted)) for d in out]
        return out, params
    params["subtract_background"] = dict(align=a.align, ordinate="Qz (Qz_basis='actual')")
    out, intensity = subtract(data, a.align)
    if case == "background":
        return out, params
    base = by_polarization(steps.join(intensity))
    params["divide_intensity"] = "joined intensity scan, same polarization, aligned by dT"
    out = [steps.divide_intensity(d, base[d.polarization]) for d in out]
    if case == "divide_intensity":
        return out, params
    fp = dict(Io=1.0, width=a.width, offset=a.offset)
    out = [steps.rescale(steps.abinitio_footprint(d, **fp), a.scale, a.dscale) for d in out]
    return out, params | {"abinitio_footprint": fp, "rescale": dict(scale=a.scale, dscale=a.dscale)}


def engine_rescale(files, scales, dscales):
    """The data sets of the files rescaled by reductus' own template engine: a template of
    four nodes run by process_template (as reductus' server runs one), so that the scale*
    and dscale* lists are paired with the bundle by reductus itself."""
    import contextlib
    import io

    from reductus.dataflow import configure
    from reductus.dataflow.calc import process_template
    from reductus.dataflow.core import Template, lookup_instrument

    local = {"name": "local", "url": "file:///", "start_path": ""}
    config = {"cache": {"engine": "memory"}, "data_sources": [local], "instruments": ["refl"]}
    configure.apply_config(user_config=config)
    definition = lookup_instrument("ncnr.refl").get_definition()
    versions = {m["id"]: m["version"] for m in definition["modules"]}
    filelist = [
        {"source": "local", "path": os.path.abspath(f), "mtime": int(os.path.getmtime(f))}
        for f in files
    ]
    steps_ = [
        ("super_load", {"filelist": filelist, "base": "none"}),
        ("mark_intent", {"intent": "auto"}),
        ("normalize", {"base": "monitor"}),
        ("rescale", {"scale": scales, "dscale": dscales}),
    ]
    modules = [
        {"module": f"ncnr.refl.{name}", "version": versions[f"ncnr.refl.{name}"], "config": c}
        for name, c in steps_
    ]
    wires = [{"source": [i, "output"], "target": [i + 1, "data"]} for i in range(3)]
    template = Template("rescale", "", modules, wires, "ncnr.refl", version="1.0")
    with contextlib.redirect_stdout(io.StringIO()):  # the engine prints what it computes
        bundle = process_template(template, {}, target=(3, "output"))
    return bundle.values


def column(value, n):
    if value is None:
        return None
    a = np.asarray(value, dtype=float).ravel()
    a = np.broadcast_to(a, (n,)) if a.size == 1 else a
    return [float(x) if np.isfinite(x) else None for x in a]


def describe(d):
    arrays = dict(
        x=d.x,
        v=d.v,
        dv=d.dv,
        Qz=d.Qz,
        Qx=d.Qx,
        dQ=d.dQ,
        Ti=d.Ti,
        Td=d.Td,
        dT=d.angular_resolution,
        wavelength=d.Ld,
        dL=d.dL,
        slit1=d.slit1.x,
        slit2=d.slit2.x,
        slit3=d.slit3.x,
        slit4=d.slit4.x,
        monitor=d.monitor.counts,
        monitor_variance=d.monitor.counts_variance,
        count_time=d.monitor.count_time,
        counts=d.detector.counts,
        counts_variance=d.detector.counts_variance,
        mask=None if d.mask is None else np.asarray(d.mask, dtype=float),
    )
    # a field read once (e.g. one count for all points) stays one value in reductus
    n = max(np.size(v) for v in arrays.values() if v is not None)
    return dict(
        name=d.name,
        entry=d.entry,
        polarization=d.polarization,
        intent=d.intent,
        normbase=d.normbase,
        x_label=f"{d.xlabel} ({d.xunits})",
        v_units=d.vunits,
        slit_distances_mm=[float(np.ravel(s.distance)[0]) for s in (d.slit1, d.slit2)],
        warnings=list(d.warnings or []),
        points=n,
        **{k: column(v, n) for k, v in arrays.items()},
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=CASES)
    p.add_argument("files", nargs="+")
    p.add_argument("--scale", type=float, default=2.0)
    p.add_argument("--dscale", type=float, default=0.1)
    p.add_argument("--scales", default="", help="rescale_engine: scale*, comma-separated")
    p.add_argument("--dscales", default="", help="rescale_engine: dscale*, comma-separated")
    p.add_argument("--mask", default="0", help="comma-separated 0-origin point indices")
    p.add_argument(
        "--width",
        type=lambda text: None if text == "none" else float(text),
        default=10.0,
        help="sample length along beam, mm (none: abinitio_footprint's default)",
    )
    p.add_argument("--io", type=float, default=1.0, help="abinitio_footprint's Io")
    p.add_argument("--offset", type=float, default=0.0, help="sample offset along beam, mm")
    p.add_argument("--entries", default="", help="comma-separated entry names to load")
    p.add_argument("--intent", default="auto", help="mark_intent's intent (auto, infer, ...)")
    p.add_argument("--xs", default="++", help="extract_xs's cross-section")
    p.add_argument("--theta-offset", type=float, default=0.0, help="degrees")
    p.add_argument("--frbalance", type=float, default=50.0, help="percent")
    p.add_argument("--align", default="none", help="subtract_background's align")
    p.add_argument("--qmin", type=float, default=None, help="fit_footprint range")
    p.add_argument("--qmax", type=float, default=None, help="fit_footprint range")
    p.add_argument("--origin", action="store_true", help="fit_footprint through the origin")
    p.add_argument("--slope-error", type=float, default=0.0, help="correct_footprint")
    p.add_argument("--slope", type=float, default=None, help="correct_footprint")
    p.add_argument("--intercept", type=float, default=None, help="correct_footprint")
    p.add_argument("--correct-qmin", type=float, default=None, help="correction_range")
    p.add_argument("--correct-qmax", type=float, default=None, help="correction_range")
    p.add_argument("--intercept-error", type=float, default=0.0, help="correct_footprint")
    p.add_argument("--emin", type=float, default=0.0, help="percent")
    p.add_argument("--imin", type=float, default=0.0, help="counts/s")
    p.add_argument("--clip", action="store_true", help="clip the efficiencies")
    p.add_argument("--no-spinflip", action="store_true", help="correct ++ and -- only")
    p.add_argument("--footprint", action="store_true", help="fit and correct the footprint")
    p.add_argument("--broadening", type=float, default=0.0, help="degrees, 1-sigma")
    p.add_argument("--sample-width", type=float, default=None, help="mm, for super_load")
    p.add_argument("--qz-basis", default="actual", help="super_load's Qz_basis")
    p.add_argument("--mix-sf", action="store_true", help="mix_cross_sections' mix_sf")
    p.add_argument("--beam-height", type=float, default=25.0, help="average_flux, mm")
    p.add_argument("--mix-nsf", action="store_true", help="mix_cross_sections' mix_nsf")
    p.add_argument("--float64-angles", action="store_true", help="angles as float64")
    p.add_argument("--nonparalyzing", type=float, default=0.0, help="dead time, us")
    p.add_argument("--dark", default="0", help="dark_current's poly_coeff, comma-separated")
    p.add_argument("--dark-cov", default="", help="dark_current's poly_cov, comma-separated")
    p.add_argument("--paralyzing", type=float, default=0.0, help="dead time, us")
    p.add_argument("--key", default="intent", help="filter's key")
    p.add_argument("--comparator", default="eq", help="filter's comparator")
    p.add_argument("--value", default="specular", help="filter's value")
    p.add_argument("--source", default="detector", help="fit_dead_time's source")
    p.add_argument("--mode", default="auto", help="fit_dead_time's mode")
    p.add_argument("--degree", type=int, default=1, help="smooth_slits' degree")
    p.add_argument("--span", type=int, default=2, help="smooth_slits' span")
    p.add_argument("--dx", type=float, default=0.01, help="smooth_slits' dx, mm")
    p.add_argument("--backs", type=int, default=1, help="background_field: background files")
    p.add_argument("--fit-scale", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--bf-scale", type=float, default=1.0, help="fit_background_field scale")
    p.add_argument("--epsd0", type=float, default=0.01, help="fit_background_field epsD0")
    p.add_argument("--qcutoff", type=float, default=0.05, help="fit_background_field Qcutoff")
    p.add_argument("--bf-epsd", type=float, default=None, help="subtract_background_field")
    p.add_argument("--base", default="monitor", help="normalize's base (join)")
    p.add_argument("--q-tolerance", type=float, default=0.5, help="join's Q_tolerance")
    p.add_argument("--dq-tolerance", type=float, default=0.002, help="join's dQ_tolerance")
    p.add_argument("--order", default="file", help="join's order")
    p.add_argument("--group-by", default="polarization", help="join's group_by")
    p.add_argument("--join-tolerance", type=float, default=None, help="join's tolerance")
    p.add_argument("--distance3", type=float, default=None, help="sample to slit 3, mm")
    p.add_argument("--distance4", type=float, default=None, help="sample to slit 4, mm")
    a = p.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reductus repeats data.warnings via warnings.warn
        t0 = time.perf_counter()
        datasets, params = run(a.case, a.files, a)
        params["seconds"] = time.perf_counter() - t0  # the reduction, after the imports
    params["dT_dL_dQ"] = "1-sigma (dT degrees, dL Angstrom, dQ 1/Angstrom)"
    head = dict(reductus=version("reductus"), case=a.case, files=a.files, params=params)
    body = ",\n".join(json.dumps(describe(d)) for d in datasets)
    print(f'{json.dumps(head)[:-1]},\n"datasets": [\n{body}]}}')  # a line per dataset


if __name__ == "__main__":
    main()
