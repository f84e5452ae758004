"""What a facility scripts through the API: experiments and their people (staff), the run
sheet with "same as previous", the runs table as CSV with an API key."""

import csv
import io

import pytest

from beamtime.daq.models import Experiment, Measurement, Observable, RunMetadata
from tests.factory import make_api_key, make_experiment, make_user

pytestmark = pytest.mark.django_db


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


@pytest.fixture
def staff(db):
    return make_user("sam", is_staff=True)


def test_staff_create_an_experiment_with_its_people(client, staff, alice, bob):
    response = client.post(
        "/api/daq/experiments",
        {"name": "e21003", "members": ["bob"], "coordinators": ["alice"]},
        content_type="application/json",
        headers=auth(staff),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["members"], body["coordinators"]) == (["bob"], ["alice"])
    changed = client.put(
        f"/api/daq/experiments/{body['id']}",
        {"name": "e21003", "members": ["bob", "alice"], "coordinators": []},
        content_type="application/json",
        headers=auth(staff),
    ).json()
    assert (sorted(changed["members"]), changed["coordinators"]) == (["alice", "bob"], [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "e1", "members": ["zed"]}, "members: no user 'zed'"),
        ({"name": "../etc"}, "Name: experiment name '../etc' must be a single name"),
        ({"name": "a/b"}, "Name: experiment name 'a/b' must be a single name"),
    ],
)
def test_bad_experiments_name_the_field(client, staff, body, message):
    response = client.post(
        "/api/daq/experiments", body, content_type="application/json", headers=auth(staff)
    )
    assert response.status_code == 422 and response.json()["error"].startswith(message)
    assert not Experiment.objects.exists()


def test_only_staff_create_experiments(client, alice):
    make_experiment(coordinators=[alice])
    response = client.post(
        "/api/daq/experiments", {"name": "x"}, content_type="application/json", headers=auth(alice)
    )
    assert response.status_code == 403


def test_the_run_sheet_same_as_previous_and_the_csv(client, bob):
    experiment = make_experiment(members=[bob])
    current = Observable.objects.create(experiment=experiment, name="Beam current", units="pA")
    first = RunMetadata.objects.create(experiment=experiment, run_number=0, title="10Be")
    Measurement.objects.create(observable=current, run=first, serialized_value="12.5")
    RunMetadata.objects.create(experiment=experiment, run_number=1)
    response = client.patch(
        "/api/daq/runs/1",
        {"same_as_previous": True},
        content_type="application/json",
        headers=auth(bob),
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["values"]) == ("10Be", {"Beam current": 12.5})

    table = client.get("/api/daq/runs.csv", headers=auth(bob))
    assert table.status_code == 200 and table["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(table.content.decode())))
    assert rows[0][-1] == "Beam current [pA]" and [r[-1] for r in rows[1:]] == ["12.5", "12.5"]
