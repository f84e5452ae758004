"""The walk of issue 15 from the polarized data set on: real PBR files reduced by reductus' stock
polarized template and sent to fitting with the cross-sections together (the clicks that do
this are tests/browser/test_polarized.py's; here the reduction's own API does it) → a magnetic
model on the fit page → DREAM on a worker → the posterior (corner plot, SLD bands of the
nuclear and magnetic SLD) → back to the reduction."""

import json

import pytest
from django.test import Client
from playwright.sync_api import expect

from beamtime.fitting.models import Dataset, FitJob
from tests.browser.test_fitting import fit, set_param
from tests.browser.test_smoke import log_in, shoot
from tests.factory import make_user
from tests.fitting.test_polarized import pbr_data, stock_polarized  # noqa: F401 (fixture)
from tests.reduction.conftest import fresh_cache  # noqa: F401 (fixture)


def fit_this_data_together(user) -> Dataset:
    """What "Fit this data" → "All 4 cross-sections together" does on the reduction page."""
    client = Client()
    client.force_login(user)
    template, node = stock_polarized()
    answer = client.post(
        "/api/reduction/fit",
        json.dumps({"template": template, "node": node, "together": True}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    return Dataset.objects.get(pk=answer.json()["dataset"])


def image_loaded(page, alt: str) -> bool:
    return page.evaluate(
        "alt => { const img = [...document.images].find(i => i.alt === alt);"
        " return Boolean(img && img.complete && img.naturalWidth > 0); }",
        alt,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_data", "fresh_cache")
def test_a_polarized_reduction_to_a_magnetic_dream_fit_and_back(live_server, page, celery_worker):
    ada = make_user("ada")
    dataset = fit_this_data_together(ada)
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, f"/fit/refl/{dataset.pk}")
    page.wait_for_selector("#spin-asymmetry-plot .main-svg")
    expect(page.locator("input[name=magnetic]")).to_be_checked()  # polarized: magnetism shown
    expect(page.locator("#provenance")).to_contain_text("Polarization efficiencies used")

    # a magnetic film on Si: its thickness, SLD and magnetic SLD free
    page.fill("input[name=layer-0-name]", "film")
    set_param(page, "layer-0", "thickness", 100, (20, 300))
    set_param(page, "layer-0", "sld", 4.0, (0, 8))
    set_param(page, "layer-0", "rhoM", 1.0, (0, 3))
    page.click("button:text('Evaluate')")
    page.wait_for_function(
        "() => document.getElementById('sld-plot').data.some(t => t.name === 'magnetic SLD ρM')"
    )
    shoot(page, "walk-magnetic-model")

    fit(page, "dream", 180_000, steps="40", burn="40")
    job = FitJob.objects.get()
    assert set(job.result["values"]) == {"film thickness", "film sld", "film rhoM"}
    assert job.result["posterior"]["bands"][0]["rhoM"]["p84"]  # ρM banded too
    posterior = page.locator("#posterior")
    expect(posterior).to_contain_text("samples used")
    for figure in posterior.locator("img").all():
        figure.scroll_into_view_if_needed()
    for alt in ("SLD profile (and magnetic SLD) with its 68 % and 95 % bands",):
        page.wait_for_function(
            "alt => [...document.images].some(i => i.alt === alt && i.complete && i.naturalWidth)",
            arg=alt,
        )
        assert image_loaded(page, alt)
    assert posterior.locator("img").count() >= 3  # histograms, corner plot, profile bands
    page.wait_for_selector("#spin-asymmetry-plot .main-svg")
    low, high = page.evaluate("() => document.getElementById('refl-plot').layout.yaxis.range")
    assert high - low < 12  # the data's decades, not a model's spin flip near 0
    for alt in ("Pairwise correlations of the parameters (corner plot)",):
        page.locator(f"img[alt='{alt}']").scroll_into_view_if_needed()
        page.wait_for_function(
            "alt => [...document.images].some(i => i.alt === alt && i.complete && i.naturalWidth)",
            arg=alt,
        )
    shoot(page, "walk-dream-result")

    # back to the reduction that made the data
    page.click("#provenance a:text-is('open the reduction')")
    expect(page.locator("#message")).to_contain_text("Reloaded the reduction of data set")
    expect(page.locator("#made-from-list li")).to_contain_text(dataset.name)
    shoot(page, "walk-back-to-the-reduction")
    assert errors == []
