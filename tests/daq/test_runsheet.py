import csv
import io

import pytest
from django.utils import timezone

from beamtime.daq.models import Measurement, Observable, RunMetadata
from tests.factory import make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(alice):
    experiment = make_experiment(members=[alice])
    for order, (name, kind, units) in enumerate(
        [("Beam current", "float", "pA"), ("Mesh voltage", "int", "V"), ("Species", "str", "")]
    ):
        Observable.objects.create(
            experiment=experiment, name=name, value_type=kind, units=units, order=order
        )
    for n in range(2):
        RunMetadata.objects.create(
            experiment=experiment, run_number=n, stop_datetime=timezone.now() if n == 0 else None
        )
    return experiment


@pytest.fixture
def member(client, alice, experiment):
    client.force_login(alice)
    return client


def fields(experiment) -> dict:
    return {o.name: f"obs_{o.pk}" for o in experiment.observables.all()}


def test_update_values_edits_the_latest_run(member, experiment):
    f = fields(experiment)
    response = member.post(
        "/daq/runs/latest",
        {
            "run_class": "beam",
            "title": "10Be on target",
            f["Beam current"]: "12.5",
            f["Mesh voltage"]: "450",
            f["Species"]: "10Be",
        },
    )
    assert response.status_code == 302
    run = RunMetadata.objects.get(run_number=1)
    assert (run.run_class, run.title) == ("beam", "10Be on target")
    assert {m.observable.name: m.value for m in run.measurements.all()} == {
        "Beam current": 12.5,
        "Mesh voltage": 450,
        "Species": "10Be",
    }


def test_wrong_types_name_the_field_and_save_nothing(member, experiment):
    f = fields(experiment)
    response = member.post(
        "/daq/runs/1", {"run_class": "beam", "title": "x", f["Mesh voltage"]: "4.5e2 V"}
    )
    assert response.status_code == 200
    assert "Mesh voltage [V]: Enter a whole number." in response.content.decode()
    assert RunMetadata.objects.get(run_number=1).title == ""
    assert not Measurement.objects.exists()


def test_same_as_previous_fills_what_the_run_lacks(member, experiment):
    f = fields(experiment)
    member.post(
        "/daq/runs/0",
        {
            "run_class": "beam",
            "title": "first",
            f["Beam current"]: "12.5",
            f["Mesh voltage"]: "450",
        },
    )
    member.post("/daq/runs/1", {"run_class": "testing", "title": "", f["Mesh voltage"]: "500"})
    form = member.get("/daq/runs/latest?same_as_previous=1").context["form"]
    assert form.initial[f["Beam current"]] == 12.5  # from run 0
    assert form.initial[f["Mesh voltage"]] == 500  # its own value wins
    assert form.initial["title"] == "first"


def test_the_run_table_and_its_csv(member, experiment):
    f = fields(experiment)
    member.post(
        "/daq/runs/0",
        {"run_class": "beam", "title": "first, with a comma", f["Beam current"]: "12.5"},
    )
    page = member.get("/daq/runs/").content.decode()
    assert "first, with a comma" in page and "12.5" in page
    response = member.get("/daq/runs.csv")
    assert response["Content-Disposition"] == 'attachment; filename="e20009-runs.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["run_number", "run_class", "title"] and rows[0][-3:] == [
        "Beam current [pA]",
        "Mesh voltage [V]",
        "Species",
    ]
    assert rows[1][:3] == ["0", "Beam", "first, with a comma"] and rows[1][-3] == "12.5"
    assert len(rows) == 3


def test_an_unknown_run_is_404_and_charlie_sees_nothing(member, client, charlie):
    assert member.get("/daq/runs/99").status_code == 404
    client.force_login(charlie)
    assert client.get("/daq/runs/").status_code == 404
    assert client.get("/daq/runs.csv").status_code == 404
    assert client.post("/daq/runs/latest", {"run_class": "junk"}).status_code == 404


class TestObservables:
    def test_add_and_refuse_a_duplicate_name(self, member, experiment):
        assert (
            member.post(
                "/daq/observables/",
                {"name": "Gas pressure", "value_type": "float", "units": "torr"},
            ).status_code
            == 302
        )
        response = member.post("/daq/observables/", {"name": "gas pressure", "value_type": "float"})
        errors = response.context["form"].errors["name"]
        assert errors == ["the experiment has an observable 'gas pressure' already"]
        assert "Name: the experiment has an observable" in response.content.decode()
        assert experiment.observables.filter(name__iexact="gas pressure").count() == 1

    def test_the_type_of_a_measured_observable_cannot_change(self, member, experiment):
        observable = experiment.observables.get(name="Mesh voltage")
        Measurement.objects.create(
            observable=observable, run=experiment.runs.first(), serialized_value="450"
        )
        response = member.post(
            f"/daq/observables/{observable.pk}/", {"name": "Mesh voltage", "value_type": "str"}
        )
        assert "measurements were recorded with this type" in response.content.decode()

    def test_reordering(self, member, experiment):
        pks = list(experiment.observables.values_list("pk", flat=True))
        assert (
            member.post("/daq/observables/order", {"order": f"{pks[2]},{pks[0]}"}).status_code
            == 204
        )
        assert list(experiment.observables.values_list("name", flat=True)) == [
            "Species",
            "Beam current",
            "Mesh voltage",
        ]

    def test_reordering_with_a_foreign_observable_is_refused(self, member, experiment):
        other = Observable.objects.create(
            experiment=make_experiment("other", active=False), name="x"
        )
        response = member.post("/daq/observables/order", {"order": str(other.pk)})
        assert response.status_code == 400

    def test_the_chart_has_the_values_by_run(self, member, experiment):
        observable = experiment.observables.get(name="Beam current")
        for run, value in zip(
            experiment.runs.order_by("run_number"), ["12.5", "11.0"], strict=True
        ):
            Measurement.objects.create(observable=observable, run=run, serialized_value=value)
        points = member.get(f"/daq/observables/{observable.pk}/chart").context["points"]
        assert points == {"x": [0, 1], "y": [12.5, 11.0], "name": "Beam current [pA]"}

    def test_hiding_keeps_the_values_of_past_runs(self, member, experiment):
        observable = experiment.observables.get(name="Species")
        run = experiment.runs.get(run_number=0)
        Measurement.objects.create(observable=observable, run=run, serialized_value="10Be")
        experiment.coordinators.add(experiment.members.first())
        member.post(f"/daq/observables/{observable.pk}/", {"hide": "1"})
        assert "Species" not in member.get("/daq/runs/").content.decode()
        assert "Species" not in member.get("/daq/runs/0").content.decode()
        assert Measurement.objects.get(observable=observable).value == "10Be"
        member.post(f"/daq/observables/{observable.pk}/", {"show": "1"})
        assert "10Be" in member.get("/daq/runs/").content.decode()

    def test_only_coordinators_hide(self, member, experiment):
        observable = experiment.observables.get(name="Species")
        response = member.post(f"/daq/observables/{observable.pk}/", {"hide": "1"})
        assert response.status_code == 403
        assert not Observable.objects.get(pk=observable.pk).is_hidden

    def test_charlie_cannot_touch_them(self, client, charlie, experiment):
        observable = experiment.observables.first()
        client.force_login(charlie)
        assert client.get(f"/daq/observables/{observable.pk}/").status_code == 404
        assert client.post(f"/daq/observables/{observable.pk}/", {"delete": "1"}).status_code == 404
        assert (
            client.post("/daq/observables/order", {"order": str(observable.pk)}).status_code == 404
        )


def test_saving_the_sheet_says_so_and_the_first_run_offers_no_previous(member, experiment):
    response = member.post("/daq/runs/1", {"run_class": "beam", "title": "t"}, follow=True)
    assert "Run 1: the run sheet is saved." in response.content.decode()
    assert "Same as previous" not in member.get("/daq/runs/0").content.decode()
    assert "Same as previous" in member.get("/daq/runs/1").content.decode()


def test_the_runs_table_sums_up_the_configurations(member, experiment):
    run = experiment.runs.get(run_number=0)
    run.configs = {f"ECC{i}": "cobo/standard/beam" for i in range(10)} | {
        "ECC_mutant": "mutant/standard/beam"
    }
    run.state = "aborted"
    run.save()
    page = member.get("/daq/runs/").content.decode()
    assert "cobo/standard/beam ×10<br>mutant/standard/beam<br>" in page
    assert ">aborted</span>" in page


def test_a_value_too_long_to_keep_is_refused_naming_the_field(member, experiment):
    f = fields(experiment)
    for field, value, label in [
        (f["Mesh voltage"], "9" * 201, "Mesh voltage [V]"),
        (f["Species"], "x" * 201, "Species"),
    ]:
        response = member.post("/daq/runs/1", {"run_class": "beam", field: value})
        assert response.status_code == 200
        errors = response.context["form"].errors[field]
        assert errors and "200 characters" in errors[0], (label, errors)
    assert not Measurement.objects.exists()


def test_csv_text_that_a_spreadsheet_would_run_gets_an_apostrophe(member, experiment):
    f = fields(experiment)
    Observable.objects.filter(name="Species").update(name="=HYPERLINK()")
    member.post(
        "/daq/runs/0",
        {
            "run_class": "beam",
            "title": "=cmd|' /C calc'!A0",
            f["Mesh voltage"]: "-450",
            f["Beam current"]: "-1.5",
            f["Species"]: "@SUM(1)",
        },
    )
    rows = list(csv.reader(io.StringIO(member.get("/daq/runs.csv").content.decode())))
    assert rows[0][-1] == "'=HYPERLINK()"
    assert rows[1][2] == "'=cmd|' /C calc'!A0"
    assert rows[1][-3:] == ["-1.5", "-450", "'@SUM(1)"]  # numbers stay numbers
