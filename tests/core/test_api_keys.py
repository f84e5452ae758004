import hashlib

import pytest
from django.test import Client

from beamtime.core.models import ApiKey
from tests.factory import make_api_key


def auth(key, scheme="Bearer"):
    return (
        {"Authorization": f"{scheme} {key}"}
        if scheme == "Bearer"
        else {"Authorization": f"FPS_API APIKEY={key}"}
    )


@pytest.mark.django_db
class TestKeysPage:
    def test_it_shows_a_new_key_once_and_stores_only_its_hash(self, client, alice):
        client.force_login(alice)
        response = client.post("/accounts/keys/", {"name": "shift laptop"}, follow=True)
        key = response.context["new_key"]
        assert key.startswith("bt_")
        assert key in response.content.decode()

        row = ApiKey.objects.get(user=alice)
        assert row.name == "shift laptop" and row.scopes == ["read"]
        assert row.digest == hashlib.sha256(key.encode()).hexdigest()
        assert key not in {row.prefix, row.digest, row.name}

        again = client.get("/accounts/keys/").content.decode()
        assert key not in again
        assert f"{row.prefix}…" in again

    def test_it_gives_a_key_the_write_scope_only_when_asked(self, client, alice):
        client.force_login(alice)
        client.post("/accounts/keys/", {"name": "tcs", "write_fplane": "on"})
        assert ApiKey.objects.get(user=alice).scopes == ["read", "write:fplane"]
        assert "read, write:fplane" in client.get("/accounts/keys/").content.decode()

    def test_it_rejects_a_key_without_a_name(self, client, alice):
        client.force_login(alice)
        response = client.post("/accounts/keys/", {"name": "  "}, follow=True)
        assert "Name: give the key a name" in response.content.decode()
        assert not ApiKey.objects.exists()

    def test_it_lists_only_the_users_own_keys(self, client, alice, charlie):
        make_api_key(alice, "alice-laptop")
        make_api_key(charlie, "charlie-laptop")
        client.force_login(charlie)
        page = client.get("/accounts/keys/").content.decode()
        assert "charlie-laptop" in page
        assert "alice-laptop" not in page

    def test_it_revokes_a_key(self, client, alice):
        row, key = make_api_key(alice)
        client.force_login(alice)
        client.post(f"/accounts/keys/{row.pk}/revoke")
        row.refresh_from_db()
        assert row.revoked_at is not None
        assert Client().get("/api/me", headers=auth(key)).status_code == 401

    def test_it_does_not_let_charlie_revoke_alices_key(self, client, alice, charlie):
        row, key = make_api_key(alice)
        client.force_login(charlie)
        assert client.post(f"/accounts/keys/{row.pk}/revoke").status_code == 404
        row.refresh_from_db()
        assert row.revoked_at is None

    def test_revoke_needs_post(self, client, alice):
        row, _ = make_api_key(alice)
        client.force_login(alice)
        assert client.get(f"/accounts/keys/{row.pk}/revoke").status_code == 405


@pytest.mark.django_db
class TestKeyAuthentication:
    @pytest.mark.parametrize("scheme", ["Bearer", "FPS_API"])
    def test_it_accepts_both_header_forms(self, client, alice, scheme):
        _, key = make_api_key(alice)
        response = client.get("/api/me", headers=auth(key, scheme))
        assert response.status_code == 200
        assert response.json()["username"] == "alice"

    def test_it_records_when_a_key_was_last_used(self, client, alice):
        row, key = make_api_key(alice)
        assert row.last_used_at is None
        client.get("/api/me", headers=auth(key))
        row.refresh_from_db()
        assert row.last_used_at is not None

    def test_it_writes_last_used_at_at_most_once_a_minute(
        self, client, alice, django_assert_num_queries
    ):
        from datetime import timedelta

        from django.utils import timezone

        row, key = make_api_key(alice)
        client.get("/api/me", headers=auth(key))
        row.refresh_from_db()
        first = row.last_used_at
        with django_assert_num_queries(1):  # the key's lookup, no write
            client.get("/api/me", headers=auth(key))
        row.refresh_from_db()
        assert row.last_used_at == first
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
        client.get("/api/me", headers=auth(key))
        row.refresh_from_db()
        assert timezone.now() - row.last_used_at < timedelta(seconds=10)

    def test_it_records_the_use_once_the_answer_is_sent(self, alice, rf):
        from django.core.signals import request_finished
        from django.db import close_old_connections

        from beamtime.core.auth import user_from_request

        row, key = make_api_key(alice)
        request = rf.get("/api/me", headers=auth(key))
        assert user_from_request(request) == alice
        row.refresh_from_db()
        assert row.last_used_at is None  # not while the request is being answered
        # the server has sent the answer (the test's connection kept, as Django's test client
        # keeps it)
        request_finished.disconnect(close_old_connections)
        try:
            request_finished.send(sender=None)
        finally:
            request_finished.connect(close_old_connections)
        row.refresh_from_db()
        assert row.last_used_at is not None

    def test_unknown_and_revoked_keys_get_the_same_401(self, client, alice):
        row, key = make_api_key(alice)
        row.revoke()
        revoked = client.get("/api/me", headers=auth(key))
        unknown = client.get("/api/me", headers=auth("bt_" + "x" * 43))
        assert revoked.status_code == unknown.status_code == 401
        assert revoked.json() == unknown.json()
        assert "error" in revoked.json()

    def test_a_key_of_a_deactivated_user_is_refused(self, client, alice):
        _, key = make_api_key(alice)
        alice.is_active = False
        alice.save()
        assert client.get("/api/me", headers=auth(key)).status_code == 401

    @pytest.mark.parametrize(
        "header",
        ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "FPS_API", "FPS_API KEY=abc", "Token abc"],
    )
    def test_malformed_headers_get_401(self, client, alice, header):
        make_api_key(alice)
        assert client.get("/api/me", headers={"Authorization": header}).status_code == 401


@pytest.mark.django_db
class TestKeysApi:
    def test_it_creates_lists_and_revokes_keys(self, client, alice):
        _, key = make_api_key(alice, "first")
        client.force_login(alice)  # keys are created signed in
        created = client.post(
            "/api/keys",
            {"name": "second", "scopes": ["read", "write:fplane"]},
            content_type="application/json",
        )
        client.logout()
        assert created.status_code == 201
        assert created.json()["scopes"] == ["read", "write:fplane"]
        new_key = created.json()["key"]
        assert client.get("/api/me", headers=auth(new_key)).status_code == 200

        listed = client.get("/api/keys", headers=auth(key)).json()
        assert sorted(k["name"] for k in listed) == ["first", "second"]
        assert all("key" not in k and "digest" not in k for k in listed)

        revoked = client.delete(f"/api/keys/{created.json()['id']}", headers=auth(key))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert client.get("/api/me", headers=auth(new_key)).status_code == 401

    def test_a_key_cannot_create_keys(self, client, alice):
        _, key = make_api_key(alice, "first", ["read", "write:fplane"])
        response = client.post(
            "/api/keys", {"name": "more"}, content_type="application/json", headers=auth(key)
        )
        assert response.status_code == 403
        assert "keys are created signed in" in response.json()["error"]
        assert ApiKey.objects.count() == 1

    def test_a_key_without_the_read_scope_cannot_read(self, client, alice):
        _, key = make_api_key(alice, "writer", ["write:fplane"])
        assert client.get("/api/me", headers=auth(key)).status_code == 403
        # POSTs read too: a reduction's plot and the files' facts, a fit, the run's controls
        for path in [
            "/api/reduction/calculate",
            "/api/reduction/cached",
            "/api/reduction/files/describe",
            "/api/reduction/fit",
            "/api/fitting/fits",
            "/api/daq/actions/describe",
        ]:
            response = client.post(path, {}, content_type="application/json", headers=auth(key))
            assert response.status_code == 403, path
            assert "no read scope" in response.json()["error"]
        _, reader = make_api_key(alice, "reader", ["read"])
        assert client.get("/api/me", headers=auth(reader)).status_code == 200

    def test_charlie_cannot_see_or_revoke_alices_keys(self, client, alice, charlie):
        alice_row, alice_key = make_api_key(alice)
        _, charlie_key = make_api_key(charlie)
        assert client.get("/api/keys", headers=auth(charlie_key)).json()[0]["id"] != alice_row.pk
        response = client.delete(f"/api/keys/{alice_row.pk}", headers=auth(charlie_key))
        assert response.status_code == 404
        assert client.get("/api/me", headers=auth(alice_key)).status_code == 200

    def test_it_names_the_field_of_a_bad_request(self, client, alice):
        client.force_login(alice)
        response = client.post("/api/keys", {"name": ""}, content_type="application/json")
        assert response.status_code == 422
        assert response.json()["field"] == "name"

    def test_session_writes_need_the_csrf_token(self, alice):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        response = browser.post("/api/keys", {"name": "x"}, content_type="application/json")
        assert response.status_code in (401, 403)
        assert not ApiKey.objects.exists()
