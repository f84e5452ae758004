"""The manual fit session of the web reflectivity manual, done in Chromium: upload
double_layer.txt, build the two-layer model, evaluate, fit with LM on a worker, read the
result — and the same start fitted with DREAM for uncertainties."""

import re

import pytest

from tests.browser.test_smoke import log_in, shoot
from tests.conftest import SHARED
from tests.factory import make_user

DATA = SHARED / "data" / "reflectivity" / "double_layer.txt"


def set_param(page, prefix, name, value, free_range=None):
    page.fill(f"input[name={prefix}-{name}-value]", str(value))
    if free_range:
        page.check(f"input[name={prefix}-{name}-free]")
        page.fill(f"input[name={prefix}-{name}-min]", str(free_range[0]))
        page.fill(f"input[name={prefix}-{name}-max]", str(free_range[1]))


def build_session_model(page):
    """The manual's solution table, front to back: air / B / A / Si, each layer's roughness
    the interface on its front side, Si's the A/Si interface; A and B start out of phase."""
    page.click("button:text('+ Add a layer')")
    page.wait_for_selector("input[name=layer-1-name]")
    page.fill("input[name=layer-0-name]", "B")
    set_param(page, "layer-0", "thickness", 40, (30, 50))
    set_param(page, "layer-0", "sld", 5.912)
    set_param(page, "layer-0", "roughness", 1.0)
    page.fill("input[name=layer-1-name]", "A")
    set_param(page, "layer-1", "thickness", 500, (400, 600))
    set_param(page, "layer-1", "sld", 9.436)
    set_param(page, "layer-1", "roughness", 9.977)
    assert page.locator("input[name=front-roughness-value]").count() == 0  # it has none
    set_param(page, "back", "sld", 2.07)
    set_param(page, "back", "roughness", 1.566)


def leaving_is_held(page) -> bool:
    """Whether the page asks the browser to confirm leaving it (a beforeunload handler)."""
    return page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )


def parameters(page) -> dict[str, tuple[float, float]]:
    rows = page.locator("table.parameters tbody tr").all_inner_texts()
    found = {}
    for row in rows:
        label, value, error = row.split("\t")
        found[label.strip()] = (float(value), float(error.replace("±", "")))
    return found


@pytest.mark.django_db(transaction=True)
def fit(page, engine: str, timeout: float, **options: str) -> None:
    """Choose the engine, fill in its options, press Fit; back once the job page says the fit
    completed (within timeout ms)."""
    page.select_option("select[name=engine]", engine)
    for name, value in options.items():
        page.fill(f"input[name={name}]", value)
    page.click("button:text('Fit')")
    page.wait_for_url(re.compile(r".*/fitting/jobs/\d+/$"))
    page.locator("text=Fit completed").wait_for(timeout=timeout)


def test_the_manual_fit_session(live_server, page, celery_worker):
    make_user("ada")
    log_in(page, live_server, "/fitting/")
    page.set_input_files("input[name=file]", str(DATA))
    page.click("button:text('Upload')")
    page.wait_for_url(re.compile(r".*/fit/upload/\d+$"))
    page.wait_for_selector("#refl-plot .main-svg")
    # air / 50 Å / Si: total reflection below Si's critical edge, as the data show.
    curve = page.evaluate("JSON.parse(document.getElementById('plot-data').textContent).curve")
    assert curve["q"][0] == pytest.approx(0.008) and curve["r"][0] > 0.95
    shoot(page, "fitting-default-model")

    assert not leaving_is_held(page)
    build_session_model(page)
    assert leaving_is_held(page)  # edits not yet evaluated or saved: the browser warns
    before = page.inner_text("#chisq")
    page.click("button:text('Evaluate')")
    chisq_changes_from(page, before)
    assert float(page.inner_text("#chisq").split("=")[1]) > 100  # the out-of-phase start
    assert not leaving_is_held(page)
    shoot(page, "fitting-start-model")

    fit(page, "lm", 60_000)
    page.wait_for_selector("#refl-plot .main-svg")
    found = parameters(page)
    # The shared README: refl1d's LM gives A 577.57, B 44.83, χ² 0.862.
    assert found["A thickness"][0] == pytest.approx(577.57, abs=0.01)
    assert found["B thickness"][0] == pytest.approx(44.83, abs=0.01)
    assert "χ² = 0.8617" in page.inner_text("[role=status]")
    shoot(page, "fitting-lm-result")

    # The same start with DREAM: uncertainties from the posterior.
    page.click("text=back to the model")
    page.wait_for_selector("input[name=layer-1-name]")
    set_param(page, "layer-1", "thickness", 500, (400, 600))
    set_param(page, "layer-0", "thickness", 40, (30, 50))
    fit(page, "dream", 120_000, samples="5000", burn="100")
    found = parameters(page)
    assert found["A thickness"][0] == pytest.approx(577.6, abs=2)
    assert 0 < found["A thickness"][1] < 2
    assert "samples used" in page.inner_text("#posterior")  # the posterior, shown below
    shoot(page, "fitting-dream-result")


def chisq_changes_from(page, before: str) -> None:
    page.wait_for_function("t => document.getElementById('chisq').textContent !== t", arg=before)


def drawn_model(page) -> list[float]:
    """The model curve as Plotly holds it in the reflectivity plot."""
    return page.evaluate(
        "() => document.getElementById('refl-plot').data.find(t => t.name === 'model').y"
    )


@pytest.mark.django_db(transaction=True)
def test_evaluate_redraws_in_place(live_server, page):
    """Evaluate redraws the reflectivity, residuals, SLD profile and χ² without a reload; the
    edits stay as typed, and a mistake is shown above the buttons, naming the field."""
    make_user("ada")
    log_in(page, live_server, "/fitting/")
    page.set_input_files("input[name=file]", str(DATA))
    page.click("button:text('Upload')")
    page.wait_for_url(re.compile(r".*/fit/upload/\d+$"))
    page.wait_for_selector("#sld-plot .main-svg")
    url, first_model = page.url, drawn_model(page)
    first_chisq = page.inner_text("#chisq")
    sld_depth = page.evaluate("() => Math.max(...document.getElementById('sld-plot').data[0].x)")
    page.evaluate("() => { window.notReloaded = true; }")

    page.fill("input[name=layer-0-thickness-value]", "400")
    page.click("button:text('Evaluate')")
    chisq_changes_from(page, first_chisq)
    one_layer = page.inner_text("#chisq")
    assert page.evaluate("() => window.notReloaded") is True  # the same page, not a new one
    assert page.url == url
    assert drawn_model(page) != first_model
    # The SLD profile now reaches 350 Å further down (a 400 Å layer instead of 50 Å).
    depth = page.evaluate("() => Math.max(...document.getElementById('sld-plot').data[0].x)")
    assert depth - sld_depth == pytest.approx(350, abs=1)
    assert page.input_value("input[name=layer-0-thickness-value]") == "400"
    assert not leaving_is_held(page)  # evaluated: nothing to warn about
    shoot(page, "fitting-evaluated-in-place")

    page.fill("input[name=layer-0-thickness-value]", "abc")
    page.click("button:text('Evaluate')")
    page.wait_for_selector("#fit-error:not([hidden])")
    assert "layer 1 (material) thickness" in page.inner_text("#fit-error")
    assert page.evaluate("() => window.notReloaded") is True
    assert page.input_value("input[name=layer-0-thickness-value]") == "abc"  # kept as typed
    marked = page.locator("input[aria-invalid=true]")  # the input at fault, and only it
    assert marked.count() == 1
    assert marked.get_attribute("name") == "layer-0-thickness-value"
    assert "invalid" in marked.get_attribute("class")
    assert page.inner_text("td:has(input[name=layer-0-thickness-value]) .field-error") == (
        "not a number"
    )
    assert leaving_is_held(page)  # not evaluated: leaving still asks
    shoot(page, "fitting-evaluate-error")

    # Mended, the mark goes; a second layer added, then removed with its button, in place.
    page.fill("input[name=layer-0-thickness-value]", "400")
    page.click("button:text('+ Add a layer')")
    page.wait_for_selector("input[name=layer-1-name]")
    assert page.locator("input[aria-invalid=true]").count() == 0
    two_layers = page.inner_text("#chisq")
    page.evaluate("() => { window.notReloaded = true; }")
    page.locator("tr:has(input[name=layer-1-name]) button:text('Remove')").click()
    chisq_changes_from(page, two_layers)
    assert page.evaluate("() => window.notReloaded") is True
    assert page.locator("tr:has(input[name=layer-1-name])").is_hidden()
    assert page.inner_text("#chisq") == one_layer  # the 400 Å layer alone, as evaluated before
    shoot(page, "fitting-layer-removed")


@pytest.mark.django_db(transaction=True)
def test_the_calculators(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/fitting/tools/")
    page.fill("input[name=formula]", "D2O")
    page.fill("input[name=density]", "1.107")
    page.locator("button:text('Calculate')").first.click()
    page.wait_for_selector("#sld-result")
    assert "6.3" in page.inner_text("#sld-result")
    page.fill("input[name=electrode]", "Li15Si4")
    page.fill("input[name=radius]", "2")
    page.fill("input[name=thickness]", "75")
    page.locator("button:text('Calculate')").last.click()
    page.wait_for_selector("#capacity-result")
    assert "3578.6 mAh/g — per gram of the host, Si4" in page.inner_text("#capacity-result")
    assert "6.3" in page.inner_text("#sld-result")  # the other calculator's result stays
    shoot(page, "fitting-calculators")


@pytest.mark.django_db(transaction=True)
def test_an_orso_file_uploads_and_shows_its_header(live_server, page, tmp_path):
    from tests.fitting.test_orso import orso_file, table

    path = tmp_path / "two-sets.ort"
    path.write_bytes(orso_file(table(), table(offset=1e-3)))
    make_user("ada")
    log_in(page, live_server, "/fitting/")
    page.set_input_files("input[name=file]", str(path))
    page.click("button:text('Upload')")
    page.wait_for_url(re.compile(r".*/fit/upload/\d+$"))
    page.wait_for_selector("#refl-plot .main-svg")
    assert "of 2 in the file" in page.inner_text("#orso-header")
    page.click("#orso-header")
    page.wait_for_selector("#metadata")
    assert "Ni on Si" in page.inner_text("#metadata pre")
    assert "2 data sets; this is number 1" in page.inner_text("#metadata")
    shoot(page, "fitting-orso-header")


@pytest.mark.django_db(transaction=True)
def test_dream_results(live_server, page):
    """A DREAM fit's page: what the run used, the convergence, the posterior table and the
    three figures (loaded as images), each downloadable; the draws as CSV."""
    from beamtime.fitting import jobs
    from beamtime.fitting.models import Dataset, FitJob
    from tests.fitting.test_layers import session_model

    user = make_user("ada")
    model = session_model()
    model["layers"][1]["roughness"] = {"value": 8, "free": True, "min": 2, "max": 15}
    dataset = Dataset.from_upload(user, "double_layer.txt", DATA.read_bytes())
    job = FitJob.objects.create(
        owner=user, dataset=dataset, model=model, engine="dream", options={"steps": 300}
    )
    assert jobs.run(job.pk) == FitJob.DONE
    log_in(page, live_server, f"/fitting/jobs/{job.pk}/")
    page.wait_for_selector("#posterior")
    images = page.locator("#posterior img")
    assert images.count() == 3
    for index in range(3):
        images.nth(index).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 200", arg=images.nth(index).element_handle()
        )
    rows = page.locator("#posterior tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["A roughness", "A thickness", "B thickness"]
    with page.expect_download() as download:
        page.click("#posterior a:text('draws as CSV')")
    header = download.value.path().read_text().splitlines()[0]
    assert header == "A roughness,A thickness,B thickness"
    shoot(page, "fitting-dream-posterior")


@pytest.mark.django_db(transaction=True)
def test_dream_results_of_a_polarized_fit(live_server, page):
    """The same page for a magnetic model on four cross-sections: ρM among the parameters,
    its band in the profile figure."""
    from tests.fitting.test_magnetism import dream_job

    job = dream_job(make_user("ada"), burn=100, steps=150)
    log_in(page, live_server, f"/fitting/jobs/{job.pk}/")
    rows = page.locator("#posterior tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["Fe rhoM", "Fe thetaM", "Fe thickness"]
    images = page.locator("#posterior img")
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 200", arg=images.nth(index).element_handle()
        )
    shoot(page, "fitting-dream-polarized")
