"""An internet-facing deployment: password policy, 401s for bad keys, upload limits, HTTPS
headers and a Content Security Policy the pages satisfy, `check --deploy` clean."""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from beamtime.core.models import ApiKey
from tests.factory import PASSWORD, make_api_key
from tests.test_serve import beamtime_env

SRC = Path(__file__).resolve().parents[2] / "src" / "beamtime"


@pytest.mark.django_db
class TestPasswordPolicy:
    @pytest.mark.parametrize(
        ("new", "says"),
        [
            ("1", "too short"),
            ("password123", "too common"),
            ("4815162342108", "entirely numeric"),
            ("alice.liddell", "too similar"),
        ],
    )
    def test_it_refuses_a_weak_new_password(self, client, new, says):
        from tests.factory import make_user

        alice = make_user("alice", first_name="Alice", last_name="Liddell")
        client.force_login(alice)
        response = client.post(
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 200
        assert says in response.content.decode()
        alice.refresh_from_db()
        assert alice.check_password(PASSWORD)


@pytest.mark.django_db
class TestBadKeysGet401:
    def test_a_revoked_key_on_post_is_401_not_a_csrf_403(self, alice):
        row, key = make_api_key(alice)
        row.revoke()
        # A browser-like client: CSRF enforced, and a session cookie of someone logged in.
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
        bearer = {"Authorization": f"Bearer {key}"}
        for response in (
            client.post("/api/keys", {}, content_type="application/json", headers=bearer),
            client.delete(f"/api/keys/{row.pk}", headers=bearer),
            client.get("/api/keys", headers=bearer),
        ):
            assert response.status_code == 401, response.content
            assert "API key" in response.json()["error"]
        assert ApiKey.objects.count() == 1

    def test_every_method_of_every_api_route_is_401_for_a_revoked_key(self, alice):
        from beamtime.api import api

        row, key = make_api_key(alice, scopes=("read", "write:fplane"))
        row.revoke()
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)  # a session cookie comes along, as from a browser
        bearer = {"Authorization": f"Bearer {key}"}
        tried = []
        for path, operations in api.get_openapi_schema()["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method, operation in operations.items():
                if not operation.get("security"):  # public (the API root, its docs)
                    continue
                response = client.generic(
                    method.upper(), url, b"{}", content_type="application/json", headers=bearer
                )
                assert response.status_code == 401, (method, url, response.content)
                tried.append(method)
        assert {"get", "post", "put", "patch", "delete"} <= set(tried), tried
        assert len(tried) > 60

        # The FPlane server's own update endpoint, outside the JSON API.
        fplane = {"Authorization": f"FPS_API APIKEY={key}"}
        response = client.post("/fplane", b"{}", content_type="application/json", headers=fplane)
        assert response.status_code == 401, response.content

    def test_an_anonymous_write_is_401(self, db):
        response = Client(enforce_csrf_checks=True).post(
            "/api/keys", {"name": "x"}, content_type="application/json"
        )
        assert response.status_code == 401

    def test_a_logged_in_browser_still_needs_its_csrf_token(self, alice):
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
        response = client.post("/api/keys", {"name": "x"}, content_type="application/json")
        assert response.status_code == 403
        assert not ApiKey.objects.exists()


def post_headers_only(url: str, path: str, length: int) -> tuple[bytes, float]:
    """Send a POST announcing ``length`` bytes but only its headers and 64 KiB; return the
    answer's first bytes and how long it took."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
            f"boundary=xyz\r\nContent-Length: {length}\r\n\r\n".encode()
            + b"--xyz\r\n"
            + b"x" * 65536
        )
        answer = sock.recv(4096)
        seconds = time.monotonic() - start
        while b"\r\n\r\n" not in answer or answer.endswith(b"\r\n\r\n"):
            more = sock.recv(4096)
            if not more:
                break
            answer += more
        return answer, seconds


@pytest.mark.django_db(transaction=True)
class TestUploadLimit:
    def test_a_too_large_upload_is_refused_before_it_is_read(self, live_server, settings):
        settings.MAX_UPLOAD_MB = 5
        # 300 MB announced, 64 KiB sent: the answer comes without the server waiting for more.
        answer, seconds = post_headers_only(live_server.url, "/fitting/upload/", 300 * 2**20)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert b"at most 5 MB" in answer
        assert seconds < 5

    def test_the_api_answers_413_in_json(self, client, settings):
        settings.MAX_UPLOAD_MB = 1
        response = client.post("/api/keys", b"x" * (2 * 2**20), content_type="application/json")
        assert response.status_code == 413
        assert response.json() == {"error": "the request is too large: at most 1 MB"}

    def test_a_json_body_above_what_django_reads_into_memory_gets_the_json_413(
        self, client, settings
    ):
        settings.MAX_UPLOAD_MB = 100  # files may be larger; data read into memory may not
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2**20
        body = b'{"template": "' + b"x" * (2 * 2**20) + b'"}'
        response = client.post("/api/reduction/calculate", body, content_type="application/json")
        assert response.status_code == 413  # was Django's HTML "Bad Request (400)"
        assert response.json() == {"error": "the request is too large: at most 1 MB"}

    def test_a_body_within_the_limit_passes(self, client, settings):
        settings.MAX_UPLOAD_MB = 1
        response = client.post("/api/keys", b"{}", content_type="application/json")
        assert response.status_code == 401


@pytest.mark.django_db
class TestHeaders:
    def test_every_page_sends_the_content_security_policy(self, client, alice):
        client.force_login(alice)
        policy = client.get("/")["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-eval" not in policy
        assert client.get("/")["Referrer-Policy"] == "same-origin"

    def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(self, settings, alice):
        settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
        settings.SECURE_HSTS_SECONDS = 3600
        settings.SECURE_SSL_REDIRECT = True
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        client = Client()
        plain = client.get("/accounts/login/")
        assert plain.status_code == 301 and plain["Location"].startswith("https://")
        assert client.get("/healthz").status_code in (200, 503)  # monitoring needs no TLS

        proxied = Client(HTTP_X_FORWARDED_PROTO="https")
        page = proxied.get("/accounts/login/")
        assert page["Strict-Transport-Security"].startswith("max-age=3600")
        assert page.cookies["csrftoken"]["secure"]
        response = proxied.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]


def check_deploy(home: Path, **env) -> subprocess.CompletedProcess:
    environment = beamtime_env(home, **env)
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser tests' setting
    return subprocess.run(
        [sys.executable, "-m", "beamtime", "manage", "check", "--deploy"]
        + ["--fail-level", "WARNING"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestDeployCheck:
    def test_it_is_clean_in_https_mode(self, tmp_path):
        result = check_deploy(
            tmp_path,
            BEAMTIME_HTTPS="1",
            BEAMTIME_ALLOWED_HOSTS="beamtime.lab.org",
            BEAMTIME_CSRF_TRUSTED_ORIGINS="https://beamtime.lab.org",
            BEAMTIME_TRUSTED_PROXIES="127.0.0.1",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    def test_without_it_django_warns(self, tmp_path):
        result = check_deploy(tmp_path)
        assert result.returncode != 0
        for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
            assert warning in result.stdout + result.stderr

    def test_a_bad_proxy_setting_stops_with_one_line(self, tmp_path):
        result = check_deploy(tmp_path, BEAMTIME_TRUSTED_PROXIES="nginx.local")
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "beamtime: BEAMTIME_TRUSTED_PROXIES: 'nginx.local' is not an IP address"
        )


def test_no_template_runs_inline_script():
    """The policy allows scripts from files only: no <script> body (but one with the request's
    nonce, or data), no on…= attribute."""
    offenders = []
    for template in SRC.rglob("templates/**/*.html"):
        text = template.read_text()
        inline = re.findall(
            r"<script(?![^>]*\b(?:src=|nonce=\"{{ request.csp_nonce }}\"|type=\"application/json))"
            r"[^>]*>\s*\S",
            text,
        )
        handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", text)
        if inline or handlers:
            offenders.append(str(template.relative_to(SRC)))
    assert offenders == []
