"""Plain factories for test data: make_* with sensible defaults."""

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


def make_user(username: str = "alice", password: str = PASSWORD, **fields):
    return get_user_model().objects.create_user(username=username, password=password, **fields)


def make_api_key(user, name: str = "laptop", scopes=("read",)):
    """Return (row, key) for a new API key of ``user``."""
    from beamtime.core.models import ApiKey

    return ApiKey.issue(user, name, scopes)


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


def make_experiment(name: str = "e20009", active: bool = True, members=(), coordinators=()):
    from beamtime.daq.models import Experiment

    experiment = Experiment.objects.create(name=name, is_active=active)
    experiment.members.set(members)
    experiment.coordinators.set(coordinators)
    return experiment


def make_ecc_server(
    experiment,
    url: str,
    name: str = "ecc0",
    config=("cobo", "standard", "beam"),
    sources=1,
    staging: str = "",
):
    """An ECC server at ``url`` (a simulator's), with its data sources and routers (online,
    filing into ``staging``), and a selected configuration set."""
    from urllib.parse import urlsplit

    from django.utils import timezone

    from beamtime.daq.models import ConfigId, DataRouter, DataSource, ECCServer

    parts = urlsplit(url)
    server = ECCServer.objects.create(
        experiment=experiment, name=name, ip_address=parts.hostname, port=parts.port, is_online=True
    )
    for i in range(sources):
        router = DataRouter.objects.create(
            experiment=experiment,
            name=f"{name}-router{i}",
            ip_address="127.0.0.1",
            port=46005 + i,
            staging_directory=staging,
            is_online=True,
            last_checked=timezone.now(),
        )
        DataSource.objects.create(
            experiment=experiment, name=f"{name}-CoBo[{i}]", ecc_server=server, data_router=router
        )
    if config:
        server.selected_config = ConfigId.objects.create(
            ecc_server=server, describe=config[0], prepare=config[1], configure=config[2]
        )
        server.save()
    return server
