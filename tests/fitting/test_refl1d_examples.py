"""refl1d's own documentation examples (doc/examples, copied with their data files into
data/refl1d_examples, see SOURCE.md): each slab-model script imports into a Beamtime model, and
that model's χ² on the script's data is refl1d's own χ² of the script — refl1d runs the script
(its simulated data seeded), Beamtime reads it without running it and evaluates the model on
the same points (Q, R, dR and the resolution refl1d computed)."""

from pathlib import Path

import numpy as np
import pytest
from bumps.fitproblem import FitProblem, load_problem

from beamtime.fitting.data import ReflData
from beamtime.fitting.refl1d_adapter import (
    CROSS_SECTIONS,
    FWHM_PER_SIGMA,
    chisq_together,
    evaluate,
)
from beamtime.fitting.script_import import import_script, model_from_script

EXAMPLES = Path(__file__).parent / "data" / "refl1d_examples"
SLAB_EXAMPLES = [
    "ex1/nifilm.py",
    "ex1/nifilm-fit.py",
    "ex1/nifilm-data.py",
    "ex1/nifilm-back.py",
    "ex1/nifilm-tof.py",
    "ex1/nifilm-mixture.py",
    "ill_posed/anticor.py",
    "superlattice/PEMU.py",
    "xray/model.py",  # X-ray data, SLDs given; its default search ("rltest", no arguments)
]
# several experiments of one sample: a co-refinement, a model per experiment
CO_REFINED_EXAMPLES = [
    "zeeman/model.py",  # polarized, in two guide fields (0 and 0.4 T); simulated here
    "TOF/du53.py",  # four SNS runs as a ProbeSet: an intensity each, one θ offset
]


def refl1d_problem(path: Path, monkeypatch):
    """The script run by refl1d in its own folder (it reads its data files from there)."""
    monkeypatch.chdir(path.parent)
    np.random.seed(1)  # the examples that simulate their data
    return load_problem(path.name)


def same_points(experiment) -> ReflData:
    """Every point of the experiment's probe (all of a ProbeSet's), ordered by Q."""
    probes = getattr(experiment.probe, "probes", [experiment.probe])
    q, r, dr, dq = (np.concatenate([getattr(p, a) for p in probes]) for a in ("Q", "R", "dR", "dQ"))
    order = np.argsort(q, kind="stable")
    return ReflData(q[order], r[order], dr[order], dq[order] * FWHM_PER_SIGMA)


@pytest.mark.parametrize("example", SLAB_EXAMPLES)
def test_a_documentation_example_imports_with_refl1d_s_chisq(example, monkeypatch):
    path = EXAMPLES / example
    problem = refl1d_problem(path, monkeypatch)
    (experiment,) = problem.models
    model = model_from_script(path.read_text())
    assert len(model.free_parameters()) == len(problem.getp())  # the same fit, not only values
    curve = evaluate(model, same_points(experiment))
    assert curve.chisq == pytest.approx(problem.chisq(), rel=1e-9)


def test_a_mixture_s_fitted_fraction_is_its_sld_over_the_fraction_s_range(monkeypatch):
    """nifilm-mixture.py fits SiOx's volume fraction of SiO2 from 0 to 100 %: Beamtime fits
    the SLD between refl1d's SLDs of the two ends, iSLD following; at any fraction in between
    refl1d's and Beamtime's reflectivities agree."""
    path = EXAMPLES / "ex1/nifilm-mixture.py"
    problem = refl1d_problem(path, monkeypatch)
    (experiment,) = problem.models
    model = model_from_script(path.read_text())
    mixture = experiment.sample["SiOx"].material
    fraction = mixture.fraction[0]
    ends = []
    for percent in (0, 100, 30):
        fraction.value = percent
        ends.append(mixture.sld(experiment.probe.probes[0]))
    sld = model.param("SiOx.sld")
    assert (sld.min, sld.max) == pytest.approx(sorted([ends[0][0], ends[1][0]]), rel=1e-12)
    # at 30 %: the same SLD makes the same χ² (iSLD follows by the constraint)
    sld.value = float(ends[2][0])
    problem.model_update()
    curve = evaluate(model, same_points(experiment))
    assert curve.chisq == pytest.approx(problem.chisq(), rel=1e-9)


def points(probe) -> ReflData:
    return ReflData(probe.Q.copy(), probe.R, probe.dR, probe.dQ * FWHM_PER_SIGMA)


def data_sets(experiment) -> list:
    """An experiment's data as Beamtime's data sets: a polarized one by cross-section, or
    one data set per probe of a ProbeSet."""
    if hasattr(experiment.probe, "xs"):
        return [
            {
                ours: points(getattr(experiment.probe, theirs))
                for ours, theirs in CROSS_SECTIONS.items()
                if getattr(experiment.probe, theirs) is not None
            }
        ]
    return [points(probe) for probe in getattr(experiment.probe, "probes", [experiment.probe])]


@pytest.mark.parametrize("example", CO_REFINED_EXAMPLES)
def test_an_example_of_several_experiments_imports_as_a_co_refinement(example, monkeypatch):
    """A script whose experiments see one sample, or whose one experiment has several probes
    (a ProbeSet), imports as a model per experiment or probe (each with its probe's guide
    field, or intensity and angle), the sample's free parameters shared and a probe
    parameter the probes share (du53's θ offset); the co-refinement's χ² is refl1d's χ² of
    the whole problem (bumps: all squared residuals over all points less the free
    parameters). A script without data gets refl1d's simulation (the one zeeman/model.py
    leaves commented out)."""
    path = EXAMPLES / example
    problem = refl1d_problem(path, monkeypatch)
    experiments = list(problem.models)
    if getattr(experiments[0].probe, "xs", [experiments[0].probe])[0].R is None:
        problem.simulate_data(5)
    imported = import_script(path.read_text())
    data = [found for experiment in experiments for found in data_sets(experiment)]
    assert len(imported.models) == len(data) > 1
    free = {name for model in imported.models for name, _ in model.free_parameters()}
    per_set = len(free - set(imported.shared)) * len(data)
    assert len(imported.shared) + per_set == len(problem.getp())  # the same fit
    for experiment, model in zip(experiments, imported.models, strict=False):
        if hasattr(experiment.probe, "xs"):  # polarized: each its probe's field, alone too
            field = (experiment.probe.H.value, experiment.probe.Aguide.value)
            assert (model.guide_field.value, model.guide_angle.value) == field
            alone = evaluate(model, data_sets(experiment)[0]).chisq
            assert alone == pytest.approx(FitProblem(experiment).chisq(), rel=1e-9)
    together = chisq_together(imported.models, data, imported.shared)
    assert together == pytest.approx(problem.chisq(), rel=1e-9)


@pytest.mark.parametrize("offset", [0.03, -0.02])
def test_du53_s_theta_offset_moves_every_run_as_refl1d_moves_it(offset, monkeypatch):
    """du53.py's one θ offset (tied across its four runs): Beamtime computes each run's
    points at Q·sin(θ + offset)/sin θ, refl1d at its probes' angle + offset; the same χ²."""
    path = EXAMPLES / "TOF/du53.py"
    problem = refl1d_problem(path, monkeypatch)
    (experiment,) = problem.models
    data = data_sets(experiment)
    imported = import_script(path.read_text())
    assert [m.angle for m in imported.models] == [0.3, 0.7, 1.5, 3.0]
    experiment.probe.probes[0].theta_offset.value = offset  # the others are the same one
    problem.model_update()
    for model in imported.models:
        model.theta_offset.value = offset
    together = chisq_together(imported.models, data, imported.shared)
    assert together == pytest.approx(problem.chisq(), rel=1e-9)
