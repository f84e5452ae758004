"""The configuration pages in a browser: the focal-plane picture, a past date, a slot's
history reached by clicking its square, and a comparison."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.browser.test_smoke import log_in, shoot
from tests.factory import hetdex, make_user


@pytest.mark.django_db(transaction=True)
def test_browse_the_focal_plane_history(live_server, page):
    hetdex()
    call_command("load_demo", stdout=io.StringIO())
    make_user("ada")
    log_in(page, live_server, "/configs/hetdex/")
    page.wait_for_selector("#focal-plane .main-svg")
    # One square per seat of the plate.
    assert page.locator("#focal-plane .scatterlayer .point").count() == 84
    shoot(page, "configs-focal-plane")

    # Every form the README lists goes through the box as typed.
    for typed, shown in [
        ("20180715", "2018-07-16 05:00:00 UTC"),
        ("20180715T03:04:05", "2018-07-15 03:04:05 UTC"),
        ("2017-06-01", "2017-06-02 05:00:00 UTC"),
    ]:
        page.fill("input[name=at]", typed)
        page.click("button:text('Show')")
        page.wait_for_url(f"**/configs/hetdex/?at={typed.replace(':', '%3A')}")
        page.wait_for_selector("#focal-plane .main-svg")
        assert shown in page.inner_text("hgroup")
        assert page.input_value("input[name=at]") == typed
    shoot(page, "configs-past-date")

    # Clicking a square opens that slot's history (slot 044 is next to the centre).
    page.evaluate(
        """() => {
            const el = document.getElementById('focal-plane');
            const i = el.data[0].customdata.indexOf('044');
            el.emit('plotly_click', {points: [{customdata: el.data[0].customdata[i]}]});
        }"""
    )
    page.wait_for_url("**/configs/hetdex/slots/044/")
    assert page.locator("tbody tr").count() >= 1
    shoot(page, "configs-slot-history")

    page.goto(live_server.url + "/configs/hetdex/diff/?from=2017-06-01&to=")
    assert "differ" in page.inner_text("main")
    shoot(page, "configs-diff")

    # A correction after a published tag: both views on the page and in the slot's history.
    from datetime import UTC, datetime

    from beamtime.configs import store
    from tests.factory import make_unit

    store.tag(hetdex(), "HDR3", publish=True, description="data release 3")
    store.correct(
        hetdex(),
        {"044": make_unit("099", specid="399", specslot="199")},
        valid_from=datetime(2017, 2, 1, tzinfo=UTC),
        valid_until=datetime(2017, 3, 1, tzinfo=UTC),
        reason="logbook: IFU 099 sat in 044 in February 2017",
    )
    page.goto(live_server.url + "/configs/hetdex/?at=20170215")
    page.wait_for_selector("#focal-plane .main-svg")
    assert "Revision 13" in page.inner_text("p.revision")
    shoot(page, "configs-corrected")
    page.click("p.revision a:text('tag HDR3')")
    page.wait_for_selector("#focal-plane .main-svg")
    assert "tag HDR3" in page.inner_text("p.revision")
    shoot(page, "configs-tag")
    page.goto(live_server.url + "/configs/hetdex/slots/044/")
    assert "by revision 13" in page.inner_text("main")
    shoot(page, "configs-slot-corrected")


@pytest.mark.django_db(transaction=True)
def test_an_ecc_archive_folds_its_xcfg_files(live_server, page):
    """Two runs' archived .xcfg files: folded on the history page, opened with a click,
    downloaded whole, and their differing lines on the compare page."""
    from datetime import UTC, datetime

    from beamtime.configs import store
    from beamtime.daq.runs import ecc_instrument
    from tests.configs.test_long_texts import archived, xcfg
    from tests.factory import make_experiment

    ada = make_user("ada")
    instrument = ecc_instrument(make_experiment(members=[ada]))
    for hour, gain in [(20, "120fC"), (21, "240fC")]:
        state = {f"ecc{i}": archived(xcfg(gain)) for i in range(3)}
        when = datetime(2026, 12, 1, hour, tzinfo=UTC)
        store.apply_change(instrument, state, valid_from=when, source="daq", reason="run")
    path = f"/configs/{instrument.name}/"
    log_in(page, live_server, path)
    folded = page.locator("details.attr-text")
    assert folded.count() == 3 and not folded.first.evaluate("d => d.open")
    assert folded.first.locator("pre").is_hidden()
    shoot(page, "configs-ecc-archive")
    folded.first.locator("summary").click()
    assert folded.first.locator("pre").is_visible()
    assert "240fC" in folded.first.locator("pre").inner_text()
    shoot(page, "configs-ecc-archive-open")
    with page.expect_download() as download:
        folded.first.locator("a:text('Download the whole file')").click()
    assert download.value.suggested_filename == "ecc0-configure-beam.xcfg"
    assert Path(download.value.path()).read_text() == xcfg("240fC")

    page.click("a:text('what changed') >> nth=0")
    page.wait_for_url("**/diff/**")
    assert "3 slots differ" in page.inner_text("main")
    assert page.locator("pre.diff").count() == 3
    assert (
        '+  <Channel id="0"><Gain>240fC</Gain></Channel>'
        in page.locator("pre.diff").first.inner_text()
    )
    shoot(page, "configs-ecc-diff")
