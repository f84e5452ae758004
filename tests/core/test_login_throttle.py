"""Failed logins lock the account, and the client that guesses, out for a while."""

import time

import pytest
from django.test import Client, RequestFactory

from beamtime.core.client import client_ip
from tests.factory import PASSWORD, make_user


def log_in(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_MINUTES = 15
    return settings


@pytest.mark.django_db
class TestAccountLockout:
    def test_it_refuses_even_the_right_password_after_the_limit(self, client, alice, limits):
        for _ in range(3):
            assert log_in(client, "alice", "wrong").status_code == 200
        refused = log_in(client, "alice", PASSWORD)
        assert refused.status_code == 429
        assert "Too many failed logins: try again in 15 minutes." in refused.content.decode()
        assert client.get("/").status_code == 302  # not logged in

    def test_the_lock_holds_for_the_account_from_any_client(self, alice, limits):
        for _ in range(3):
            log_in(Client(), "alice", "wrong", REMOTE_ADDR="10.0.0.1")
        other = Client()
        assert log_in(other, "Alice", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 429
        # Another account from that client is not affected.
        make_user("bob")
        assert log_in(other, "bob", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302

    def test_a_success_before_the_limit_starts_the_count_again(self, client, alice, limits):
        for _ in range(2):
            log_in(client, "alice", "wrong")
        assert log_in(client, "alice", PASSWORD).status_code == 302
        client.post("/accounts/logout/")
        for _ in range(2):
            log_in(client, "alice", "wrong")
        assert log_in(client, "alice", PASSWORD).status_code == 302

    def test_the_lock_ends_after_the_lockout_time(self, client, alice, limits):
        # Three seconds: long enough that a loaded machine still counts three failures in a
        # row and sees the lock; the wait is taken from the last failure.
        limits.LOGIN_LOCKOUT_MINUTES = 3 / 60
        for _ in range(3):
            log_in(client, "alice", "wrong")
        last_failure = time.monotonic()
        assert log_in(client, "alice", PASSWORD).status_code == 429
        time.sleep(max(0.0, 3.5 - (time.monotonic() - last_failure)))
        assert log_in(client, "alice", PASSWORD).status_code == 302

    def test_the_admin_login_is_throttled_too(self, client, limits):
        make_user("root", is_staff=True, is_superuser=True)
        for _ in range(3):
            client.post("/admin/login/", {"username": "root", "password": "wrong"})
        page = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
        assert "Too many failed logins" in page.content.decode()
        assert client.get("/admin/").status_code == 302

    def test_a_refused_login_checks_no_password(self, client, limits):
        # The real hasher (the suite's is a fast one): a guess costs a full PBKDF2 run,
        # a refused one nothing, so a guesser does not slow the other users down.
        limits.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
        make_user("alice")
        timings = []
        for _ in range(4):
            start = time.perf_counter()
            log_in(client, "alice", "wrong")
            timings.append(time.perf_counter() - start)
        checked, refused = min(timings[:3]), timings[3]
        assert checked > 0.05, timings  # PBKDF2 with Django's default iterations
        assert refused < checked / 5, timings


@pytest.mark.django_db
class TestClientLockout:
    def test_one_client_guessing_many_accounts_is_locked_out(self, limits):
        guesser, colleague = Client(REMOTE_ADDR="10.0.0.9"), Client(REMOTE_ADDR="10.0.0.10")
        make_user("alice")
        for i in range(12):  # four times the account limit, spread over accounts
            assert log_in(guesser, f"user{i}", "wrong").status_code == 200
        assert log_in(guesser, "alice", PASSWORD).status_code == 429
        assert log_in(colleague, "alice", PASSWORD).status_code == 302

    def test_behind_a_trusted_proxy_the_forwarded_address_counts(self, limits):
        limits.TRUSTED_PROXIES = ["127.0.0.1"]
        make_user("alice")
        guesser = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
        colleague = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8")
        for i in range(12):
            log_in(guesser, f"user{i}", "wrong")
        assert log_in(guesser, "alice", PASSWORD).status_code == 429
        assert log_in(colleague, "alice", PASSWORD).status_code == 302


class TestClientAddress:
    def request(self, remote, forwarded=None):
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
        return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)

    def test_a_client_cannot_choose_its_address_with_a_header(self, settings):
        settings.TRUSTED_PROXIES = []
        assert client_ip(self.request("198.51.100.1", "10.0.0.1")) == "198.51.100.1"

    def test_a_trusted_proxy_names_the_client(self, settings):
        settings.TRUSTED_PROXIES = ["127.0.0.1", "10.1.1.1"]
        # The client's own entries come first and are not believed; the last untrusted hop is.
        request = self.request("127.0.0.1", "6.6.6.6, 198.51.100.2, 10.1.1.1")
        assert client_ip(request) == "198.51.100.2"
        assert client_ip(self.request("127.0.0.1")) == "127.0.0.1"
