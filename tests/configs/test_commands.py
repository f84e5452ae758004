import io
import json

import pytest
from django.core.management import call_command

from beamtime.configs import store
from beamtime.configs.models import Change
from tests.factory import hetdex, make_api_key, make_report


@pytest.mark.django_db
def test_add_api_user_prints_a_key_that_may_update_the_focal_plane(client):
    out = io.StringIO()
    call_command(
        "add_api_user", "-u", "tcs", "-e", "tcs@het.example", "Telescope", "Control", stdout=out
    )
    key = out.getvalue().strip()
    report = make_report(
        {"013": {"type": "VIRUS", "ifuid": "024", "specid": "037", "specslot": "042"}}
    )
    response = client.post(
        "/fplane",
        json.dumps({"config": report, "commit": True}),
        content_type="application/json",
        headers={"Authorization": f"FPS_API APIKEY={key}"},
    )
    assert response.status_code == 201
    assert Change.objects.get().made_by.get_username() == "tcs"


def update(client, key):
    report = make_report(
        {"013": {"type": "VIRUS", "ifuid": "024", "specid": "037", "specslot": "042"}}
    )
    return client.post(
        "/fplane",
        json.dumps({"config": report, "commit": False}),
        content_type="application/json",
        headers={"Authorization": f"FPS_API APIKEY={key}"},
    )


@pytest.mark.django_db
def test_add_api_user_on_an_existing_user_reissues_its_key_and_revokes_the_old_one(client):
    first = io.StringIO()
    call_command("add_api_user", "-u", "tcs", stdout=first, stderr=io.StringIO())
    second, notes = io.StringIO(), io.StringIO()
    call_command("add_api_user", "-u", "tcs", stdout=second, stderr=notes)
    old, new = first.getvalue().strip(), second.getvalue().strip()
    assert old != new and "revoked the earlier key" in notes.getvalue()
    assert update(client, old).status_code == 401
    assert update(client, new).status_code == 200


@pytest.mark.django_db
def test_add_api_user_leaves_a_persons_own_keys_alone(client, alice):
    _, own = make_api_key(alice, "laptop", ["read", "write:fplane"])
    out = io.StringIO()
    call_command("add_api_user", "-u", "alice", stdout=out, stderr=io.StringIO())
    assert update(client, own).status_code == 200  # alice now has the permission too
    assert update(client, out.getvalue().strip()).status_code == 200


@pytest.mark.django_db
def test_the_demo_history_has_installs_a_swap_a_repair_and_measured_positions():
    call_command("load_demo", stdout=io.StringIO())
    instrument = hetdex()
    reasons = list(instrument.changes.order_by("valid_from").values_list("reason", flat=True))
    assert reasons[0].startswith("first light")
    assert any("swapped" in r for r in reasons)
    assert any("out of service" in r for r in reasons) and any("repaired" in r for r in reasons)
    assert any("measured" in r for r in reasons)
    now = store.configuration_at(instrument, instrument.changes.first().valid_from)
    assert sum(e.attributes["type"] == "VIRUS" for e in now.values()) == 16 + 7 * 8
    # Loading again adds nothing.
    call_command("load_demo", stdout=io.StringIO())
    assert instrument.changes.count() == len(reasons)
