"""Plain factories for test data: make_* with sensible defaults."""

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


def make_user(username: str = "alice", password: str = PASSWORD, **fields):
    return get_user_model().objects.create_user(username=username, password=password, **fields)


def make_api_key(user, name: str = "laptop"):
    """Return (row, key) for a new API key of ``user``."""
    from beamtime.core.models import ApiKey

    return ApiKey.issue(user, name)


def make_unit(ifuid: str = "024", specid: str = "037", specslot: str = "042", **fields) -> dict:
    """Attributes of one focal-plane unit, as the store keeps them."""
    return {
        "type": "VIRUS",
        "ifuid": ifuid,
        "specid": specid,
        "specslot": specslot,
        "ifurot": 0.0,
        "platesc": 1.0,
        "active": True,
        "measured": None,
        **fields,
    }


def make_report(slots: dict, timestamp=None) -> dict:
    """A hardware status report for POST /fplane; ``slots`` maps slot → unit fields."""
    from django.utils import timezone

    stamp = timestamp or timezone.now()
    return {"timestamp": stamp.isoformat(), "slots": slots}


def hetdex():
    """The HETDEX focal plane (its migration's rows are gone after a transactional test)."""
    from beamtime.configs.instruments import create_hetdex
    from beamtime.configs.models import Instrument, Slot

    return create_hetdex(Instrument, Slot)


def make_history(*changes):
    """Apply (valid_from, state) pairs to the HETDEX focal plane, replacing the whole state."""
    from beamtime.configs import store

    return [
        store.apply_change(hetdex(), state, valid_from=when, replace_all=True, reason="test")
        for when, state in changes
    ]
