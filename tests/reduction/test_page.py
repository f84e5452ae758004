"""The reduction page: behind the login, served with everything it loads from this server."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_it_needs_a_login(client):
    answer = client.get("/reduction/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/?next=/reduction/")


def test_it_renders_the_editor_for_a_signed_in_user(client, alice):
    client.force_login(alice)
    answer = client.get("/reduction/")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'id="diagram"' in html and 'id="plot"' in html and 'id="panel"' in html
    assert 'data-api="/api/reduction/"' in html
    assert 'name="csrfmiddlewaretoken"' in html  # for the RPC's POSTs


def test_it_loads_katex_and_its_own_scripts_from_this_server(client, alice):
    client.force_login(alice)
    html = client.get("/reduction/").content.decode()
    local = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    local += re.findall(r'": "/static/([^"]+)"', html)  # the import map
    for needed in (
        "vendor/katex/katex.min.js",
        "vendor/katex/katex.min.css",
        "vendor/katex/auto-render.min.js",
        "reduction/editor.js",
        "reduction/diagram.js",
    ):
        assert needed in local
    for path in local:
        assert finders.find(path), f"{path} is not a static file"
    assert "cdn" not in html.lower()
    # The fonts the KaTeX stylesheet names sit beside it.
    css = finders.find("vendor/katex/katex.min.css")
    fonts = set(re.findall(r"url\((fonts/[^)]+)\)", Path(css).read_text()))
    assert fonts and all(finders.find(f"vendor/katex/{font}") for font in fonts)


def test_katex_is_loaded_on_the_reduction_page_only(client, alice):
    client.force_login(alice)
    assert "katex" not in client.get("/fitting/").content.decode()
