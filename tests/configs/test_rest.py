"""The FPlane service as existing clients use it: GET /fplane/…, POST /fplane."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from beamtime.configs.fplane import parse
from beamtime.configs.models import Change, ConfigEntry
from tests.factory import make_api_key, make_history, make_report, make_unit

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2018, 3, 2, 20, tzinfo=UTC)


@pytest.fixture
def history(db):
    make_history(
        (
            T0,
            {
                "013": make_unit("024", measured={"x": -201.5, "y": -398.2}),
                "014": make_unit("025", specslot="043"),
            },
        ),
        (
            T1,
            {
                "013": make_unit("024", measured={"x": -201.5, "y": -398.2}),
                "014": make_unit("025", specslot="043", active=False),
            },
        ),
    )


@pytest.fixture
def updater(alice):
    """alice's API key, with the right to update the focal plane."""
    alice.user_permissions.add(
        Permission.objects.get(codename="add_change", content_type__app_label="configs")
    )
    return make_api_key(alice, scopes=["read", "write:fplane"])[1]


def rows(response) -> dict:
    return {r.slot: r for r in parse(response.content.decode())}


@pytest.mark.usefixtures("history")
class TestGet:
    def test_the_url_the_manuals_client_builds_works_without_login(self, client):
        response = client.get("/fplane/20180715?actual_pos=0&full_fplane=1")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        assert response["Content-Disposition"] == 'attachment; filename="fplane20180715.txt"'
        found = rows(response)
        assert len(found) == 84
        assert found["014"].commented  # inactive since T1

    def test_a_fits_date_names_the_file_after_itself(self, client):
        response = client.get("/fplane/20170601T03:04:05")
        assert (
            response["Content-Disposition"] == 'attachment; filename="fplane20170601T03:04:05.txt"'
        )
        assert not rows(response)["014"].commented  # still active then

    @pytest.mark.parametrize("path", ["/fplane/", "/fplane/latest", "/fplane/current", "/fplane"])
    def test_now_is_the_default(self, client, path):
        response = client.get(path)
        assert response.status_code == 200
        today = timezone.now().astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago"))
        assert response["Content-Disposition"] == f'attachment; filename="fplane{today:%Y%m%d}.txt"'

    def test_the_short_file_has_only_active_virus_ifus(self, client):
        assert list(rows(client.get("/fplane/20170601?full_fplane=0"))) == ["013", "014"]
        assert list(rows(client.get("/fplane/20180715?full_fplane=0"))) == ["013"]

    def test_actual_pos_uses_measured_positions(self, client):
        nominal = rows(client.get("/fplane/20180715?actual_pos=0"))["013"]
        actual = rows(client.get("/fplane/20180715?actual_pos=1"))["013"]
        assert (nominal.x, nominal.y) == (-450.0, 150.0)
        assert (actual.x, actual.y) == (-201.5, -398.2)

    def test_a_date_before_the_first_configuration_is_404_with_the_first_date(self, client):
        response = client.get("/fplane/20170109")
        assert response.status_code == 404
        assert "the first valid date is 20170110T18:00:00" in response.content.decode()

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("/fplane/garbage", "cannot read the date 'garbage'"),
            ("/fplane/20181345", "cannot read the date '20181345'"),
            ("/fplane/?actual_pos=yes", "actual_pos must be 0 or 1"),
            ("/fplane/?full_fplane=2", "full_fplane must be 0 or 1"),
        ],
    )
    def test_bad_input_gets_a_one_line_400(self, client, path, message):
        response = client.get(path)
        assert response.status_code == 400
        body = response.content.decode()
        assert message in body and body.count("\n") == 1


@pytest.mark.django_db
def test_a_file_read_again_comes_from_the_cache_until_the_next_revision(
    client, django_assert_max_num_queries
):
    from beamtime.configs import store
    from tests.factory import hetdex

    make_history((T0, {"013": make_unit("024")}))
    known = timezone.now()
    first = client.get("/fplane/20180715?full_fplane=0")
    with django_assert_max_num_queries(1):  # the instrument row: is the cached file current?
        again = client.get("/fplane/20180715?full_fplane=0")
    assert again.content == first.content and again["X-Configuration-Revision"] == "1"
    store.correct(hetdex(), {"013": make_unit("031")}, valid_from=T1, reason="logbook")
    corrected = client.get("/fplane/20180715?full_fplane=0")
    assert corrected["X-Configuration-Revision"] == "2"
    assert rows(corrected)["013"].ifuid == "031"
    then = client.get(f"/fplane/20180715?full_fplane=0&as_of={known:%Y%m%dT%H:%M:%S.%f}")
    assert rows(then)["013"].ifuid == "024" and then["X-Configuration-Revision"] == "1"


@pytest.mark.django_db
def test_an_empty_history_is_404(client):
    response = client.get("/fplane/")
    assert response.status_code == 404
    assert "no focal-plane configuration has been recorded yet" in response.content.decode()


def post(client, body, key=None, scheme="FPS_API"):
    headers = {}
    if key:
        headers["Authorization"] = (
            f"FPS_API APIKEY={key}" if scheme == "FPS_API" else f"Bearer {key}"
        )
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/fplane", data, content_type="application/json", headers=headers)


REPORT_SLOTS = {
    "013": {"type": "VIRUS", "ifuid": "024", "specid": "037", "specslot": "042"},
    "014": {
        "type": "VIRUS",
        "ifuid": 31,
        "specid": 38,
        "specslot": 43,
        "ifurot": 180,
        "platesc": 1.01,
        "measured": {"x": -451.0, "y": 49.0},
    },
    "056": {"type": "LRS", "ifuid": "7001", "specid": "503", "specslot": "000"},
}


@pytest.mark.django_db
class TestUpdate:
    def test_a_dry_run_returns_the_file_and_writes_nothing(self, client, updater):
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": False}, updater)
        assert response.status_code == 200
        text = response.content.decode()
        assert text.startswith("## dry run: nothing was written")
        found = {r.slot: r for r in parse(text)}
        assert found["014"].line() == "014 -450.0 50.0 038 043 031 180.0 1.01"  # column 1, row 4
        assert found["056"].line() == "056 -50.0 -150.0 503 000 7001 0.0 1.00"  # LRS2-B
        assert not Change.objects.exists()

    @pytest.mark.parametrize("scheme", ["FPS_API", "Bearer"])
    def test_a_commit_writes_the_new_configuration(self, client, updater, alice, scheme):
        response = post(
            client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater, scheme
        )
        assert response.status_code == 201
        assert "## committed as change" in response.content.decode()
        change = Change.objects.get()
        assert change.made_by == alice and change.source == "api"
        served = rows(client.get("/fplane/?full_fplane=0"))
        assert list(served) == ["013", "014"]
        assert served["014"].ifuid == "031"

    def test_a_commit_replaces_the_whole_state_and_keeps_the_old_one(
        self, client, updater, history
    ):
        post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater)
        assert rows(client.get("/fplane/20180715"))["014"].ifuid == "025"
        assert rows(client.get("/fplane/"))["014"].ifuid == "031"

    def test_the_same_status_twice_changes_nothing(self, client, updater):
        post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater)
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater)
        assert response.status_code == 200
        assert "## no change" in response.content.decode()
        assert Change.objects.count() == 1

    def test_a_start_date_is_honoured(self, client, updater, history):
        response = post(
            client,
            {"config": make_report(REPORT_SLOTS), "commit": True, "start": "20190101T12:00:00"},
            updater,
        )
        assert response.status_code == 201
        assert Change.objects.latest("valid_from").valid_from == datetime(
            2019, 1, 1, 12, tzinfo=UTC
        )

    def test_a_start_before_the_current_interval_is_refused(self, client, updater, history):
        for commit in (True, False):
            response = post(
                client,
                {"config": make_report(REPORT_SLOTS), "commit": commit, "start": "20180101"},
                updater,
            )
            assert response.status_code == 409
            assert (
                "is not after the start of the current configuration (2018-03-02T20:00:00Z); "
                "the past is changed by a correction (POST /api/configs/hetdex/corrections)\n"
                in response.content.decode()
            )
        assert Change.objects.count() == 2

    def test_data_older_than_6_hours_is_refused(self, client, updater):
        stale = timezone.now() - timedelta(hours=6, minutes=1)
        response = post(
            client, {"config": make_report(REPORT_SLOTS, stale), "commit": True}, updater
        )
        assert response.status_code == 400
        assert response.content.decode().startswith("config.timestamp: the data are from")
        assert not Change.objects.exists()

    def test_data_up_to_10_minutes_ahead_are_accepted_silently(self, client, updater, caplog):
        ahead = timezone.now() + timedelta(minutes=9)
        with caplog.at_level(logging.WARNING, logger="beamtime.fplane"):
            response = post(
                client, {"config": make_report(REPORT_SLOTS, ahead), "commit": True}, updater
            )
        assert response.status_code == 201
        assert "WARNING" not in response.content.decode()
        assert not caplog.records

    def test_data_further_ahead_are_accepted_with_a_warning_in_response_and_log(
        self, client, updater, caplog
    ):
        ahead = timezone.now() + timedelta(minutes=30)
        with caplog.at_level(logging.WARNING, logger="beamtime.fplane"):
            response = post(
                client, {"config": make_report(REPORT_SLOTS, ahead), "commit": True}, updater
            )
        assert response.status_code == 201
        assert "## WARNING: the data timestamp" in response.content.decode()
        assert "minutes in the future" in caplog.text
        assert Change.objects.count() == 1


@pytest.mark.django_db
class TestUpdateRefusals:
    def test_without_a_key(self, client):
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": True})
        assert response.status_code == 401
        assert "API key is required" in response.content.decode()

    def test_with_a_revoked_key(self, client, alice, updater):
        alice.api_keys.get().revoke()
        assert (
            post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater).status_code
            == 401
        )

    def test_with_a_session_but_no_key(self, client, alice):
        client.force_login(alice)
        assert (
            post(client, {"config": make_report(REPORT_SLOTS), "commit": True}).status_code == 401
        )

    def test_without_the_permission(self, client, bob):
        _, key = make_api_key(bob, scopes=["read", "write:fplane"])
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, key)
        assert response.status_code == 403
        assert "bob may not update the focal plane" in response.content.decode()

    def test_with_a_key_without_the_write_scope(self, client, alice, updater):
        _, key = make_api_key(alice, scopes=["read"])
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, key)
        assert response.status_code == 403
        assert "this key may not update configurations" in response.content.decode()
        assert not Change.objects.exists()

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("{not json", "the body is not JSON"),
            ("[1, 2]", "the body must be a JSON object"),
            ({"commit": True}, "config: the hardware status report is missing"),
            ({"config": {}, "commit": True, "force": 1}, "unknown key 'force'"),
            ({"config": {"slots": {}}, "commit": True}, "config.timestamp: Field required"),
            ({"config": "x", "commit": "maybe"}, "commit must be 0 or 1"),
        ],
    )
    def test_malformed_bodies(self, client, updater, body, message):
        response = post(client, body, updater)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert response.content.decode().count("\n") == 1

    @pytest.mark.parametrize(
        ("slots", "message"),
        [
            (
                {"123": REPORT_SLOTS["013"]},
                "config.slots.123: IFUSLOT '123' is not a two-digit column 01–10",
            ),
            (
                {"010": REPORT_SLOTS["013"]},
                "config.slots.010: IFUSLOT 010 (column 1, row 0) is not a seat of the plate",
            ),
            (
                {"066": REPORT_SLOTS["013"]},
                "config.slots.066.type: slot 066 holds LRS2-R, not a VIRUS unit",
            ),
            (
                {"013": REPORT_SLOTS["056"]},
                "config.slots.013.type: an LRS unit sits in 056 (LRS2-B) or 066 (LRS2-R)",
            ),
            (
                {"013": {**REPORT_SLOTS["013"], "ifuid": True}},
                "config.slots.013.ifuid: True is not",
            ),
            ({"013": {**REPORT_SLOTS["013"], "ifuid": "０２４"}}, "config.slots.013.ifuid"),
            ({"013": {**REPORT_SLOTS["013"], "active": "yes"}}, "config.slots.013.active"),
            (
                {"013": {**REPORT_SLOTS["013"], "specid": "000"}},
                "config.slots.013.specid: an active unit needs a spectrograph",
            ),
            (
                {"013": {**REPORT_SLOTS["013"], "ifuid": "24x"}},
                "config.slots.013.ifuid: '24x' is not an ID of three or four digits",
            ),
            ({"013": {**REPORT_SLOTS["013"], "ifuid": 0}}, "config.slots.013.ifuid"),
            ({"013": {**REPORT_SLOTS["013"], "type": "XYZ"}}, "config.slots.013.type"),
            (
                {"013": {**REPORT_SLOTS["013"], "colour": "red"}},
                "config.slots.013.colour: Extra inputs are not permitted",
            ),
            ({"013": {**REPORT_SLOTS["013"], "platesc": -1}}, "config.slots.013.platesc"),
            # JSON's true is not the number 1, nor is the text "1": neither is stored.
            (
                {"013": {**REPORT_SLOTS["013"], "ifurot": True}},
                "config.slots.013.ifurot: Input should be a valid number",
            ),
            (
                {"013": {**REPORT_SLOTS["013"], "platesc": "1"}},
                "config.slots.013.platesc: Input should be a valid number",
            ),
            (
                {"013": {**REPORT_SLOTS["013"], "measured": {"x": False, "y": 0}}},
                "config.slots.013.measured.x: Input should be a valid number",
            ),
            (
                {"013": {**REPORT_SLOTS["013"], "measured": {"x": "nan", "y": 0}}},
                "config.slots.013.measured.x",
            ),
            (
                {"013": REPORT_SLOTS["013"], "014": {**REPORT_SLOTS["013"], "specid": "038"}},
                "config.slots.014.ifuid: IFU 024 is in two slots, 013 and 014",
            ),
            (
                {"013": REPORT_SLOTS["013"], "014": {**REPORT_SLOTS["013"], "ifuid": "025"}},
                "config.slots.014.specid: spectrograph 037 is used twice, by 013 and 014",
            ),
        ],
    )
    def test_bad_reports_name_the_field_and_write_nothing(self, client, updater, slots, message):
        response = post(client, {"config": make_report(slots), "commit": True}, updater)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert not ConfigEntry.objects.exists()

    def test_an_empty_status_does_not_empty_the_focal_plane(self, client, updater, history):
        before = client.get("/fplane/").content
        response = post(client, {"config": make_report({}), "commit": True}, updater)
        assert response.status_code == 400
        assert response.content.decode() == (
            "config.slots: no units (a truncated status?): nothing changed\n"
        )
        assert client.get("/fplane/").content == before and b"\n013 -450.0" in before

    @pytest.mark.parametrize(
        ("slots", "field"),
        [
            ({"013": {**REPORT_SLOTS["013"], "ifuid": "9" * 5_000_000}}, "config.slots.013.ifuid"),
            (
                {"013": {**REPORT_SLOTS["013"], "active": "y" * 5_000_000}},
                "config.slots.013.active",
            ),
            ({"7" * 1_000_000: REPORT_SLOTS["013"]}, "config.slots.'7777"),
            ({"013": {**REPORT_SLOTS["013"], "k" * 1_000_000: 1}}, "config.slots.013.'kkkk"),
        ],
    )
    def test_a_huge_bad_value_is_named_not_echoed_whole(self, client, updater, slots, field):
        response = post(client, {"config": make_report(slots), "commit": True}, updater)
        assert response.status_code == 400
        answer = response.content.decode()
        assert answer.startswith(field) and len(answer) < 400, answer[:500]
        assert "…" in answer

    def test_other_methods_are_refused(self, client):
        assert client.put("/fplane").status_code == 405
        assert client.post("/fplane/20180101").status_code == 405


@pytest.mark.django_db
class TestBadInput:
    """Bad input gets a one-line 400 naming the field; nothing is written; never a 500."""

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"start": "29991231"}, "start: 3000-01-01T06:00:00Z is more than a day ahead of now"),
            ({"start": "２０１８０７１５"}, "start: cannot read the date"),
            ({"start": "0001-01-01T00:00:00+14:00"}, "start: cannot read the date"),
            ({"start": 20180715}, "start: 20180715 is not a date string"),
            (
                {"config_timestamp": "0001-01-01T00:00:00+14:00"},
                "config.timestamp: 0001-01-01 00:00:00+14:00 is out of range",
            ),
        ],
    )
    def test_bad_values_are_refused_naming_the_field(self, client, updater, body, message):
        report = make_report(REPORT_SLOTS)
        if "config_timestamp" in body:
            report["timestamp"] = body.pop("config_timestamp")
        for commit in (True, False):
            response = post(client, {"config": report, "commit": commit, **body}, updater)
            assert response.status_code == 400, response.content
            assert response.content.decode().startswith(message)
        assert not Change.objects.exists()

    def test_a_start_far_ahead_does_not_block_later_updates(self, client, updater):
        post(
            client,
            {"config": make_report(REPORT_SLOTS), "commit": True, "start": "29991231"},
            updater,
        )
        response = post(client, {"config": make_report(REPORT_SLOTS), "commit": True}, updater)
        assert response.status_code == 201

    @pytest.mark.parametrize("nesting", [25, 100_000])
    def test_a_deeply_nested_body_is_refused(self, client, updater, nesting):
        body = '{"config": ' + "[" * nesting + "]" * nesting + ', "commit": true}'
        response = post(client, body, updater)
        assert response.status_code == 400
        assert "nested" in response.content.decode()

    def test_post_with_a_trailing_slash_is_the_same_update(self, updater):
        from django.test import Client

        browserless = Client(enforce_csrf_checks=True)  # as a script posts: no CSRF cookie
        response = browserless.post(
            "/fplane/",
            json.dumps({"config": make_report(REPORT_SLOTS), "commit": True}),
            content_type="application/json",
            headers={"Authorization": f"FPS_API APIKEY={updater}"},
        )
        assert response.status_code == 201
        assert response["Content-Type"].startswith("text/plain")
        assert Change.objects.count() == 1
        refused = browserless.post("/fplane/", "{}", content_type="application/json")
        assert refused.status_code == 401 and refused["Content-Type"].startswith("text/plain")
        other = browserless.post("/fplane/20180101", "{}", content_type="application/json")
        assert other.status_code == 405 and other["Content-Type"].startswith("text/plain")


def test_the_file_cache_keeps_the_most_recently_used():
    from beamtime.configs.served import Recent

    recent = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # a is now the most recent
    recent.put("c", 3)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (1, None, 3)
