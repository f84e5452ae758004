"""The configuration pages in a browser: the focal-plane picture, a past date, a slot's
history reached by clicking its square, and a comparison."""

import io

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
