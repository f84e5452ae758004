"""Every section's pages run under the Content Security Policy without a violation."""

import pytest

from tests.browser.test_smoke import log_in, shoot
from tests.factory import make_user

PAGES = ["/", "/accounts/keys/", "/daq/", "/configs/", "/reduction/", "/fitting/", "/api/docs"]


@pytest.mark.django_db(transaction=True)
def test_the_pages_satisfy_the_content_security_policy(live_server, page, csp_violations):
    make_user("ada", is_staff=True, is_superuser=True)
    log_in(page, live_server, "/")
    for path in PAGES:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        header = page.evaluate("() => document.readyState")
        assert header == "complete"
    # The policy really is on: a script injected inline is refused and reported.
    page.goto(live_server.url + "/")
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.injected = 1'; document.body.append(s); }"""
    )
    assert page.evaluate("() => window.injected") is None
    assert len(csp_violations) == 1 and "script-src" in csp_violations[0], csp_violations
    csp_violations.clear()  # the one provoked here


@pytest.mark.django_db(transaction=True)
def test_confirmations_and_auto_submit_work_without_inline_script(live_server, page):
    from beamtime.fitting.models import Dataset

    ada = make_user("ada")
    dataset = Dataset.objects.create(owner=ada, name="d.txt", content="0.01 1 0.1\n", points=1)
    log_in(page, live_server, f"/fitting/data/{dataset.pk}/")

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("button[name=delete]")
    page.wait_for_timeout(500)
    assert questions == ["Delete d.txt and its fits?"]
    assert Dataset.objects.filter(pk=dataset.pk).exists()  # dismissed: nothing sent

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[name=delete]")
    page.wait_for_url(f"{live_server.url}/fitting/")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()

    page.goto(live_server.url + "/fitting/models/")
    page.select_option("select[name=order]", "title")
    page.wait_for_url("**/fitting/models/?*order=title*")


@pytest.mark.django_db(transaction=True)
def test_the_login_page_says_when_it_is_locked(live_server, page, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    make_user("ada")
    page.goto(live_server.url + "/accounts/login/")
    for _ in range(3):
        page.fill("input[name=username]", "ada")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
    assert "Too many failed logins: try again in 15 minutes." in page.inner_text("[role=alert]")
    shoot(page, "login-locked")
