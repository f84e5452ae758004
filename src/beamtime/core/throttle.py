"""Login throttling: after repeated failures, logins for an account or from a client are refused.

After settings.LOGIN_FAILURE_LIMIT failed logins for one account (or four times as many from
one client address) each within LOGIN_LOCKOUT_MINUTES of the one before, further logins for
it are refused until LOGIN_LOCKOUT_MINUTES have passed since the last failure. A refused login
checks no password, so a guesser costs the server no hashing and slows nobody else down.
Counts live in the "shared" cache, a database table every web process sees.
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from beamtime.core.client import client_ip

CLIENT_FACTOR = 4  # a lab behind one NAT address shares the client's allowance


def _counters(request, username: str | None) -> list[tuple[str, int]]:
    """The (cache key, limit) pairs a login attempt counts against."""
    limit = settings.LOGIN_FAILURE_LIMIT
    counters = [(f"login-failures:client:{client_ip(request)}", limit * CLIENT_FACTOR)]
    if username:
        counters.append((f"login-failures:account:{username.casefold()}", limit))
    return counters


def is_locked(request, username: str | None) -> bool:
    cache = caches["shared"]
    return any(cache.get(key, 0) >= limit for key, limit in _counters(request, username))


def record_failure(request, username: str | None) -> None:
    cache = caches["shared"]
    timeout = settings.LOGIN_LOCKOUT_MINUTES * 60
    for key, _ in _counters(request, username):
        # get + set, not incr: a concurrent failure may be lost, which only ever errs by one.
        cache.set(key, cache.get(key, 0) + 1, timeout)


def clear_account(username: str) -> None:
    caches["shared"].delete(f"login-failures:account:{username.casefold()}")


class LoginThrottleBackend(ModelBackend):
    """The first authentication backend: while a login is locked out, its PermissionDenied
    stops every later backend (LDAP, Django's accounts) from checking the password.

    It authenticates no one itself. It is a ModelBackend only so that a session recorded
    for it (Django's test client logs users in with the first backend) finds its user.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None and is_locked(request, username):
            request.login_throttled = True  # the form says why; the failure is not counted
            raise PermissionDenied("too many failed logins")
        return None


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    if request is not None and not getattr(request, "login_throttled", False):
        record_failure(request, credentials.get("username"))


@receiver(user_logged_in)
def _forget_failures(sender, request, user, **kwargs):
    clear_account(user.get_username())
