"""A magnetic model on polarized data in Chromium: the editor's magnetic columns, evaluate in
place redrawing every cross-section, the spin asymmetry and the nuclear and magnetic SLD
profiles, and a fitted job's page."""

import re

import pytest

from beamtime.fitting import jobs
from beamtime.fitting.models import Dataset, FitJob
from tests.browser.test_fitting import chisq_changes_from, set_param
from tests.browser.test_smoke import log_in, shoot
from tests.factory import make_user
from tests.fitting.test_magnetism import TRUE, simulated, start


def drawn(page, element: str) -> list[str]:
    """The names of the traces Plotly drew in ``element``."""
    return page.evaluate(f"() => document.getElementById('{element}').data.map(t => t.name)")


@pytest.mark.django_db(transaction=True)
def test_a_magnetic_model_on_polarized_data(live_server, page):
    ada = make_user("ada")
    dataset = Dataset.polarized(ada, "Fe on Si (simulated)", simulated())
    log_in(page, live_server, f"/fit/upload/{dataset.pk}")
    page.wait_for_selector("#spin-asymmetry-plot .main-svg")
    assert page.is_visible("input[name=layer-0-rhoM-value]")  # polarized: magnetism shown
    traces = drawn(page, "refl-plot")
    for name in ("++", "+-", "-+", "--"):
        assert f"{name} data" in traces and f"{name} model" in traces
    assert drawn(page, "spin-asymmetry-plot") == ["data", "model"]

    # the film as it was simulated, evaluated in place
    page.fill("input[name=layer-0-name]", "Fe")
    set_param(page, "layer-0", "thickness", TRUE["Fe thickness"])
    set_param(page, "layer-0", "sld", 8.02)
    set_param(page, "layer-0", "roughness", 4.0)
    set_param(page, "layer-0", "rhoM", TRUE["Fe rhoM"])
    set_param(page, "layer-0", "thetaM", TRUE["Fe thetaM"])
    set_param(page, "back", "roughness", 3.0)
    before = page.inner_text("#chisq")
    page.click("button:text('Evaluate')")
    chisq_changes_from(page, before)
    assert float(page.inner_text("#chisq").split("=")[1]) < 1.5  # the true model: χ² ≈ 1
    assert drawn(page, "sld-plot") == ["nuclear SLD ρ", "magnetic SLD ρM", "θM (°)"]
    top = page.evaluate("() => Math.max(...document.getElementById('sld-plot').data[1].y)")
    assert top == pytest.approx(TRUE["Fe rhoM"], rel=1e-3)
    page.check(".rq4")  # R·Q⁴
    shoot(page, "fitting-magnetic-evaluated")

    # the Magnetism box hides the magnetic columns (their values stay and are posted)
    page.uncheck("input[name=magnetic]")
    assert not page.is_visible("input[name=layer-0-rhoM-value]")
    page.click("button:text('Evaluate')")
    page.wait_for_timeout(300)
    assert page.is_hidden("#fit-error")
    page.check("input[name=magnetic]")

    # a fitted job's page: every cross-section, the asymmetry, ρM and θM in the table
    job = FitJob.objects.create(
        owner=ada, dataset=dataset, model=start().to_dict(), engine="lm", options={}
    )
    assert jobs.run(job.pk) == FitJob.DONE
    page.goto(f"{live_server.url}/fitting/jobs/{job.pk}/")
    page.wait_for_selector("#spin-asymmetry-plot .main-svg")
    assert "Fe rhoM" in page.inner_text("table.parameters")
    assert re.search(r"ρM\s+θM", page.inner_text("#job-panel"))
    shoot(page, "fitting-magnetic-job")
