"""Corrections without overwriting: revisions, reading as known at an instant, named tags."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from beamtime.configs import store
from beamtime.configs.models import ConfigEntry
from tests.factory import hetdex, make_api_key, make_history, make_unit, make_user

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2018, 3, 2, 20, tzinfo=UTC)
DAY = timedelta(days=1)


def ifus(when, as_of=None) -> dict:
    found = store.configuration_at(hetdex(), when, as_of)
    return {slot: e.attributes["ifuid"] for slot, e in found.items()}


@pytest.fixture
def history(db):
    make_history(
        (T0, {"013": make_unit("024"), "014": make_unit("025", specid="038")}),
        (T1, {"013": make_unit("031"), "014": make_unit("025", specid="038")}),
    )
    return timezone.now()  # known before any correction


@pytest.mark.django_db
class TestCorrections:
    def test_a_past_interval_is_corrected_and_what_it_replaced_is_kept(self, history, alice):
        change = store.correct(
            hetdex(),
            {"013": make_unit("026")},
            valid_from=T0 + 10 * DAY,
            valid_until=T0 + 20 * DAY,
            user=alice,
            reason="IFU 026 was in 013 for ten days",
        )
        assert (change.revision, change.is_correction) == (3, True)
        assert ifus(T0 + 5 * DAY)["013"] == "024"
        assert ifus(T0 + 15 * DAY) == {"013": "026", "014": "025"}
        assert ifus(T0 + 25 * DAY)["013"] == "024"
        assert ifus(T1)["013"] == "031"
        # As known before the correction, nothing changed.
        assert ifus(T0 + 15 * DAY, as_of=history)["013"] == "024"
        (old,) = ConfigEntry.objects.filter(superseded_by=change)
        assert (old.attributes["ifuid"], old.valid_from, old.valid_until) == ("024", T0, T1)
        assert old.superseded_at == change.made_at
        # The slot's history as known now: three pieces, then the later IFU.
        slot = hetdex().slots.get(name="013")
        assert [
            (e.attributes["ifuid"], e.valid_from, e.valid_until) for e in store.slot_history(slot)
        ] == [
            ("024", T0, T0 + 10 * DAY),
            ("026", T0 + 10 * DAY, T0 + 20 * DAY),
            ("024", T0 + 20 * DAY, T1),
            ("031", T1, None),
        ]
        assert len(store.slot_history(slot, everything=True)) == 5

    def test_a_correction_from_a_date_on_replaces_the_present_too(self, history):
        store.correct(
            hetdex(), {"014": None}, valid_from=T1 - 10 * DAY, reason="014 was removed earlier"
        )
        assert ifus(T1 - 11 * DAY)["014"] == "025"
        assert "014" not in ifus(T1 - 9 * DAY) and "014" not in ifus(timezone.now())
        # The next ordinary change still works on top.
        make_history((T1 + DAY, {"013": make_unit("032")}))
        assert ifus(T1 + DAY) == {"013": "032"}

    def test_saying_what_the_history_already_says_writes_nothing(self, history):
        assert (
            store.correct(
                hetdex(), {"013": make_unit("024")}, valid_from=T0 + DAY, valid_until=T1, reason="x"
            )
            is None
        )
        assert hetdex().changes.count() == 2

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"valid_from": T0 + DAY, "reason": " "}, "reason"),
            ({"valid_from": T0 - DAY, "reason": "r"}, "valid_from"),
            ({"valid_from": T1, "valid_until": T1, "reason": "r"}, "valid_until"),
            ({"valid_from": datetime(2999, 1, 1, tzinfo=UTC), "reason": "r"}, "valid_from"),
        ],
    )
    def test_bad_corrections_are_refused_naming_the_field(self, history, kwargs, field):
        with pytest.raises(store.ChangeRefused) as raised:
            store.correct(hetdex(), {"013": make_unit("026")}, **kwargs)
        assert raised.value.field == field
        assert hetdex().changes.count() == 2

    def test_as_known_earlier_an_interval_closed_later_was_still_open(self, db):
        make_history((T0, {"013": make_unit("024")}))
        known_then = timezone.now()
        make_history((T1, {"013": make_unit("031")}))
        assert ifus(T1 + DAY, as_of=known_then) == {"013": "024"}
        assert ifus(T1 + DAY) == {"013": "031"}


@pytest.mark.django_db
class TestTags:
    def test_a_published_tag_freezes_a_view_and_never_changes(self, history, alice):
        store.tag(hetdex(), "HDR3", publish=True, user=alice, description="data release 3")
        store.correct(
            hetdex(), {"013": make_unit("026")}, valid_from=T0 + DAY, valid_until=T1, reason="r"
        )
        as_of, tag = store.as_known(hetdex(), tag="HDR3")
        assert ifus(T0 + 2 * DAY, as_of) == {"013": "024", "014": "025"}
        assert ifus(T0 + 2 * DAY)["013"] == "026"
        with pytest.raises(store.ChangeRefused, match="was published .* cannot change"):
            store.tag(hetdex(), "HDR3")
        assert store.as_known(hetdex(), tag="HDR3")[0] == as_of

    def test_an_unpublished_tag_can_be_set_again_then_published(self, history):
        first = store.tag(hetdex(), "HDR4", as_of=history - DAY)
        again = store.tag(hetdex(), "HDR4")
        assert again.pk == first.pk and again.as_of > history
        assert store.publish(hetdex(), "HDR4").published_at is not None

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"as_of": "x", "tag": "HDR3"}, "tag: give as_of or tag, not both"),
            ({"tag": "nope"}, "tag: no tag 'nope'"),
            ({"as_of": "soon"}, "as_of: cannot read the date 'soon'"),
        ],
    )
    def test_a_bad_view_names_the_field(self, history, kwargs, message):
        with pytest.raises(store.ViewError, match=message):
            store.as_known(hetdex(), **kwargs)


@pytest.fixture
def staff_key(history):
    user = make_user("ops", is_staff=True)
    return {"Authorization": f"Bearer {make_api_key(user, 'ops', ['read', 'write:fplane'])[1]}"}


@pytest.mark.django_db
class TestThroughHttp:
    def test_fplane_files_come_from_the_latest_revision_or_as_known_then(self, client, staff_key):
        assert client.get("/fplane/20170201")["X-Configuration-Revision"] == "2"
        response = client.post(
            "/api/configs/hetdex/tags",
            {"name": "HDR3", "publish": True},
            content_type="application/json",
            headers=staff_key,
        )
        assert response.status_code == 201 and response.json()["published_at"]
        response = client.post(
            "/api/configs/hetdex/corrections",
            {
                "slots": {"013": {"type": "VIRUS", "ifuid": 26, "specid": 37, "specslot": 42}},
                "valid_from": "20170115",
                "valid_until": "20170301",
                "reason": "logbook: IFU 026, not 024",
            },
            content_type="application/json",
            headers=staff_key,
        )
        assert response.status_code == 201, response.json()
        assert response.json()["revision"] == 3 and response.json()["correction"]
        latest = client.get("/fplane/20170201?full_fplane=0")
        assert latest["X-Configuration-Revision"] == "3"
        assert "013 -450.0 150.0 037 042 026 0.0 1.00" in latest.content.decode()
        tagged = client.get("/fplane/20170201?full_fplane=0&tag=HDR3")
        assert tagged["X-Configuration-Tag"] == "HDR3"
        assert tagged["X-Configuration-Revision"] == "2"
        assert "013 -450.0 150.0 037 042 024 0.0 1.00" in tagged.content.decode()
        body = client.get("/api/configs/hetdex/at?when=20170201&tag=HDR3", headers=staff_key)
        assert (body.json()["tag"], body.json()["revision"]) == ("HDR3", 2)
        bad = client.get("/fplane/20170201?tag=HDR9")
        assert bad.status_code == 400 and bad.content.decode().startswith("tag: no tag 'HDR9'")

    def test_writes_need_the_right_and_name_the_field(self, client, staff_key, alice):
        body = {
            "slots": {"010": {"type": "VIRUS", "ifuid": 26, "specid": 37, "specslot": 42}},
            "valid_from": "20170115",
            "reason": "r",
        }
        response = client.post(
            "/api/configs/hetdex/corrections",
            body,
            content_type="application/json",
            headers=staff_key,
        )
        assert response.status_code == 400
        assert response.json()["error"].startswith("slots.010: IFUSLOT 010 (column 1, row 0)")
        _, key = make_api_key(alice, scopes=["read", "write:fplane"])
        response = client.post(
            "/api/configs/hetdex/corrections",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 403
        assert hetdex().changes.count() == 2

    def test_the_generic_write_api_records_changes_for_any_instrument(self, client, staff_key):
        from beamtime.configs.models import Instrument

        Instrument.objects.create(name="ecc-e20009", title="ECC")
        response = client.post(
            "/api/configs/ecc-e20009/changes",
            {"slots": {"cobo-0": {"describe": "d1"}}, "valid_from": "20240101", "reason": "r"},
            content_type="application/json",
            headers=staff_key,
        )
        assert response.status_code == 201, response.json()
        earlier = client.post(
            "/api/configs/ecc-e20009/changes",
            {"slots": {"cobo-0": {"describe": "d0"}}, "valid_from": "20230101"},
            content_type="application/json",
            headers=staff_key,
        )
        assert earlier.status_code == 409 and earlier.json()["field"] == "start"


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [21, 900])
def test_a_value_nested_too_deeply_is_refused_before_it_is_stored(client, staff_key, levels):
    """900 levels parse, but could be neither written as JSON nor shown on a page."""
    from beamtime.configs.models import Instrument

    generic = Instrument.objects.create(name="ecc-e20009", title="ECC")

    def post(depth: int):
        nested = '{"a": ' * depth + "1" + "}" * depth
        return client.post(
            "/api/configs/ecc-e20009/changes",
            '{"slots": {"cobo-0": ' + nested + '}, "valid_from": "20240101"}',
            content_type="application/json",
            headers=staff_key,
        )

    response = post(levels)
    assert response.status_code == 400
    assert response.json()["error"] == "slots.cobo-0: nested more than 20 levels deep"
    assert not generic.changes.exists()
    # 20 levels, as deep as a report may be, are kept and shown.
    response = post(19)
    assert response.status_code == 201
    client.force_login(make_user("staffer", is_staff=True))
    assert client.get("/configs/ecc-e20009/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"), [({"slots": "x"}, "slots"), ({"slots": {}, "valid_from": 5}, "valid_from")]
)
def test_a_field_of_the_wrong_type_is_named(client, staff_key, body, field):
    response = client.post(
        "/api/configs/hetdex/changes", body, content_type="application/json", headers=staff_key
    )
    assert response.status_code == 422 and response.json()["field"] == field
    assert hetdex().changes.count() == 2  # the history fixture's
