"""Plain factories for test data: make_* with sensible defaults."""

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


def make_user(username: str = "alice", password: str = PASSWORD, **fields):
    return get_user_model().objects.create_user(username=username, password=password, **fields)


def make_api_key(user, name: str = "laptop"):
    """Return (row, key) for a new API key of ``user``."""
    from beamtime.core.models import ApiKey

    return ApiKey.issue(user, name)
