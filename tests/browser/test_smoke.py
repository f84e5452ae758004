"""A person at a browser: log in, find the four systems, manage a key, log out."""

import os
from pathlib import Path

import pytest

from tests.factory import PASSWORD, make_user

SCREENSHOTS = os.environ.get("BEAMTIME_SCREENSHOTS")


def log_in(page, live_server, next_path: str, username: str = "ada"):
    """Log in through the login page and land on ``next_path``."""
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def shoot(page, name):
    """Save a screenshot for a person to look at, when BEAMTIME_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


@pytest.mark.django_db(transaction=True)
def test_log_in_see_the_navigation_and_log_out(live_server, page):
    make_user("ada", first_name="Ada")
    page.goto(live_server.url + "/fitting/")
    assert page.url.startswith(live_server.url + "/accounts/login/")
    shoot(page, "login")

    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "correct username and password" in page.inner_text("[role=alert]")
    shoot(page, "login-error")

    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/fitting/")  # back where the user wanted to go
    nav = page.locator("nav ul.systems a")
    assert nav.all_inner_texts() == ["Run control", "Configurations", "Reduction", "Fitting"]
    assert page.locator("nav ul.systems a[aria-current=page]").inner_text() == "Fitting"
    # The vendored libraries loaded from this server.
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("typeof Plotly") == "object"

    page.click("nav ul.systems a:text('Run control')")
    page.wait_for_url(live_server.url + "/daq/")
    page.goto(live_server.url + "/")
    shoot(page, "home")

    page.click("summary:text('ada')")
    page.click("text=API keys")
    page.fill("input[name=name]", "night shift laptop")
    page.click("button:text('Create key')")
    page.wait_for_selector("#new-key")
    key = page.inner_text("#new-key")
    assert key.startswith("bt_")
    shoot(page, "api-keys")
    page.reload()
    assert page.locator("#new-key").count() == 0  # shown once only
    assert "night shift laptop" in page.inner_text("table")

    page.click("summary:text('ada')")
    page.click("button:text('Log out')")
    page.wait_for_url(live_server.url + "/accounts/login/")
    page.goto(live_server.url + "/")
    page.wait_for_url(live_server.url + "/accounts/login/?next=/")


@pytest.mark.django_db(transaction=True)
def test_the_layout_fits_a_phone(live_server, page):
    make_user("ada")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    shoot(page, "home-phone")
    # Nothing wider than the screen: no sideways scrolling of the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("nav ul.systems a:text('Fitting')").count() == 1
