"""Polarized data in Chromium: raw PBR files → the stock polarized template → "Fit this data"
with the cross-sections together → the polarized data set (its cross-sections plotted, the
efficiencies used) → back to the reduction, which lists what was made of it."""

import re

import pytest
from playwright.sync_api import expect

from beamtime.fitting.models import Dataset
from tests.browser.test_reduction import (
    LEGEND,
    both_folders,  # noqa: F401 (fixture)
    menu,
    node,
    open_template,
    pick_files,
    plot_terminal,
    screenshot,
)
from tests.browser.test_smoke import shoot
from tests.factory import make_user
from tests.reduction.conftest import fresh_cache  # noqa: F401 (fixture)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_folders", "fresh_cache")
def test_raw_pbr_files_to_a_polarized_data_set_and_back(live_server, page):
    make_user("ada")
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    titles = open_template(page, live_server)
    pick_files(
        page,
        titles,
        [
            ("specular", "reductus-pbr", "mli0170.nxs.pbr"),
            ("direct beam", "ncnr-pbr", "mli0159.nxs.pbr"),
        ],
    )
    # Typing in a field, then clicking another node: the text is not given to that node.
    node(page, 2).locator(".title").click()
    page.locator("#panel textarea").fill("0")
    plot_terminal(page, 0, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(4)  # the specular loader, unharmed
    # The specular scan runs through Q = 0: its first 11 points in each cross-section go.
    node(page, 2).locator(".title").click()
    masks = page.locator("#panel textarea")
    masks.fill("\n".join([", ".join(map(str, range(11)))] * 4))
    masks.press("Tab")  # leaving the field applies it
    corrected = titles.index("correct polarization")
    plot_terminal(page, corrected, "output", "output")
    # its answer shown, not the loader's before it (the whole template: slow on a busy machine)
    expect(page.locator("#busy")).to_be_hidden(timeout=30_000)
    expect(page.locator(LEGEND)).to_have_count(4)
    expect(page.locator(LEGEND).first).to_contain_text("UP_UP ++")  # ++ first, as corrected

    menu(page, "Data", "fit-this")
    expect(page.locator("#fit-together")).to_have_text(
        "All 4 cross-sections together (++ +- -+ --): one polarized data set"
    )
    screenshot(page, "polarized-fit-choice")
    with page.expect_navigation():
        page.click("#fit-together")
    expect(page).to_have_url(re.compile(r"/fit/refl/\d+$"))
    dataset = Dataset.objects.get()
    assert list(dataset.cross_sections()) == ["++", "+-", "-+", "--"]
    provenance = page.locator("#provenance")
    expect(provenance).to_contain_text("with the template Polarized (reductus)")
    expect(provenance).to_contain_text("local:reductus-pbr/mli0170.nxs.pbr")
    expect(provenance.locator("details.efficiencies summary")).to_contain_text(
        "Polarization efficiencies used"
    )
    expect(provenance.locator("details.efficiencies tbody tr")).to_have_count(1)
    shoot(page, "polarized-fit-page")

    # The data set's page: each cross-section plotted
    page.goto(f"{live_server.url}/fitting/data/{dataset.pk}/")
    expect(page.locator("#cross-sections h2")).to_have_text("Polarized data: 4 cross-sections")
    expect(page.locator("#cross-section-plot .legend .traces")).to_have_count(4)
    shoot(page, "polarized-data-set")
    page.uncheck("#cross-section-log")  # the corrected R of this short scan is often ≤ 0
    axis = "document.getElementById('cross-section-plot').layout.yaxis.type"
    page.wait_for_function(f"{axis} === 'linear'")
    shoot(page, "polarized-data-set-linear")
    page.goto(f"{live_server.url}/fitting/")
    expect(page.locator("td", has_text=dataset.name).locator(".badge")).to_have_text("++ +- -+ --")
    shoot(page, "polarized-index")

    # … and back to the reduction, which lists what was made of it
    page.goto(f"{live_server.url}/fit/refl/{dataset.pk}")
    page.click("#provenance a:text-is('open the reduction')")
    expect(page.locator("#message")).to_contain_text("Reloaded the reduction of data set")
    made = page.locator("#made-from-list li")
    expect(made).to_have_count(1)
    expect(made).to_contain_text(f"{dataset.name} — from node {corrected} “correct polarization”")
    expect(made).to_contain_text("polarized ++ +- -+ --, 40 points · not fitted yet")
    made.locator("a").first.scroll_into_view_if_needed()
    screenshot(page, "polarized-made-from")
    assert errors == []
