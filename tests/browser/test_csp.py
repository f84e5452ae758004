"""Every section's pages run under the Content Security Policy without a violation."""

import pytest

from tests.browser.test_smoke import log_in
from tests.factory import make_user

PAGES = ["/", "/accounts/keys/", "/daq/", "/configs/", "/reduction/", "/fitting/", "/api/docs"]


@pytest.mark.django_db(transaction=True)
def test_the_pages_satisfy_the_content_security_policy(live_server, page):
    make_user("ada", is_staff=True, is_superuser=True)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
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
    assert len(violations) == 1 and "script-src" in violations[0], violations
