import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

import pytest
from django.db import connection, transaction

from beamtime.configs import store
from beamtime.configs.models import Change, ConfigEntry
from tests.factory import hetdex, make_history, make_unit

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2018, 3, 2, 20, tzinfo=UTC)
T2 = datetime(2019, 2, 14, 15, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def ifus(configuration) -> dict:
    return {slot: entry.attributes["ifuid"] for slot, entry in configuration.items()}


@pytest.mark.django_db
class TestHistory:
    def test_intervals_are_half_open(self):
        make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
        assert store.configuration_at(hetdex(), T0 - SECOND) == {}
        assert ifus(store.configuration_at(hetdex(), T0)) == {"013": "024"}
        assert ifus(store.configuration_at(hetdex(), T1 - SECOND)) == {"013": "024"}
        assert ifus(store.configuration_at(hetdex(), T1)) == {"013": "031"}

    def test_a_change_closes_the_old_interval_and_keeps_it(self):
        first, second = make_history(
            (T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")})
        )
        old, new = ConfigEntry.objects.filter(slot__name="013").order_by("valid_from")
        assert (old.valid_from, old.valid_until, old.opened_by, old.closed_by) == (
            T0,
            T1,
            first,
            second,
        )
        assert old.attributes["ifuid"] == "024"  # nothing overwritten
        assert (new.valid_from, new.valid_until, new.opened_by) == (T1, None, second)

    def test_unchanged_slots_keep_their_interval(self):
        make_history(
            (T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}),
            (T1, {"013": make_unit("024"), "014": make_unit("026", specslot="043")}),
        )
        (entry,) = ConfigEntry.objects.filter(slot__name="013")
        assert (entry.valid_from, entry.valid_until) == (T0, None)
        assert ConfigEntry.objects.filter(slot__name="014").count() == 2

    def test_replacing_the_whole_state_empties_slots_it_does_not_name(self):
        make_history(
            (T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}),
            (T1, {"013": make_unit("024")}),
        )
        assert ifus(store.configuration_at(hetdex(), T1)) == {"013": "024"}
        assert ifus(store.configuration_at(hetdex(), T0)) == {"013": "024", "014": "025"}

    def test_a_change_that_changes_nothing_writes_nothing(self):
        make_history((T0, {"013": make_unit("024")}))
        assert store.apply_change(hetdex(), {"013": make_unit("024")}, valid_from=T1) is None
        assert Change.objects.count() == 1

    @pytest.mark.parametrize("start", [T0 - SECOND, T0])
    def test_a_start_not_after_the_current_one_is_refused(self, start):
        make_history((T0, {"013": make_unit("024")}))
        with pytest.raises(
            store.ChangeRefused, match="is not after the start of the current configuration"
        ) as raised:
            store.apply_change(hetdex(), {"013": make_unit("031")}, valid_from=start)
        assert raised.value.field == "start"
        assert ConfigEntry.objects.count() == 1

    def test_a_start_more_than_a_day_ahead_is_refused(self):
        from django.utils import timezone

        now = timezone.now()
        with pytest.raises(store.StartTooFarAhead, match="more than a day ahead") as raised:
            store.apply_change(hetdex(), {"013": make_unit()}, valid_from=now + timedelta(days=2))
        assert raised.value.field == "start" and not Change.objects.exists()
        assert store.apply_change(
            hetdex(), {"013": make_unit()}, valid_from=now + timedelta(hours=23)
        )

    def test_the_audit_trail_says_who_when_and_why(self, alice):
        change = store.apply_change(
            hetdex(),
            {"013": make_unit()},
            valid_from=T0,
            user=alice,
            reason="IFU 024 installed",
            source="web",
        )
        assert change.to_dict() | {"made_at": None} == {
            "id": change.pk,
            "revision": 1,
            "correction": False,
            "valid_from": T0,
            "valid_until": None,
            "made_at": None,
            "made_by": "alice",
            "reason": "IFU 024 installed",
            "source": "web",
        }

    def test_diff_lists_the_slots_and_fields_that_differ(self):
        make_history(
            (T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}),
            (T1, {"013": make_unit("024", active=False), "015": make_unit("026", specslot="044")}),
        )
        rows = store.diff(hetdex(), T0, T1)
        assert [(r["slot"], r["fields"]) for r in rows] == [
            ("013", ["active"]),
            (
                "014",
                ["active", "ifuid", "ifurot", "measured", "platesc", "specid", "specslot", "type"],
            ),
            (
                "015",
                ["active", "ifuid", "ifurot", "measured", "platesc", "specid", "specslot", "type"],
            ),
        ]
        assert rows[1]["after"] is None and rows[2]["before"] is None

    def test_generic_instruments_get_slots_on_first_use(self):
        from beamtime.configs.models import Instrument

        ecc = Instrument.objects.create(name="ecc", title="ECC configurations")
        store.apply_change(ecc, {"cobo-0": {"describe": "d1", "prepare": "p1"}}, valid_from=T0)
        assert store.configuration_at(ecc, T0)["cobo-0"].attributes == {
            "describe": "d1",
            "prepare": "p1",
        }

    def test_the_lookup_takes_the_same_number_of_queries_whatever_the_history(
        self, django_assert_num_queries
    ):
        state = {"013": make_unit("024")}
        for day in range(30):
            state = {"013": make_unit(f"{day + 1:03d}")}
            store.apply_change(hetdex(), state, valid_from=T0 + timedelta(days=day))
        instrument = hetdex()
        with django_assert_num_queries(1):
            found = store.configuration_at(instrument, T0 + timedelta(days=12, hours=1))
        assert ifus(found) == {"013": "013"}

    @pytest.mark.parametrize("servers", [2, 200])
    def test_a_change_is_a_few_statements_not_one_per_row(
        self, servers, django_assert_max_num_queries
    ):
        """The first run of two hundred ECC servers archives 200 new slots and entries; the
        next closes and opens 200 entries: a dozen statements (SQLite takes the new entries
        a hundred at a time), not one or two per row."""
        from beamtime.configs.models import Instrument

        ecc = Instrument.objects.create(name="ecc", title="ECC configurations")
        first = {f"ecc{i:03d}": {"configure": "beam"} for i in range(servers)}
        # savepoint, lock, the start (2), open entries, revision, change, slots (read, add,
        # read back), entries (1-3), the instrument's revision, release
        with django_assert_max_num_queries(14):
            store.apply_change(ecc, first, valid_from=T0, replace_all=True)
        second = {name: {"configure": "pulser"} for name in first}
        # as above, the closing of the old entries instead of adding slots
        with django_assert_max_num_queries(13):
            store.apply_change(ecc, second, valid_from=T1, replace_all=True)
        assert len(store.configuration_at(ecc, T0)) == servers
        now = store.configuration_at(ecc, T1)
        assert {e.attributes["configure"] for e in now.values()} == {"pulser"}
        closed = ConfigEntry.objects.filter(slot__instrument=ecc, valid_until=T1)
        assert closed.count() == servers
        assert {e.closed_by.revision for e in closed.select_related("closed_by")} == {2}
        assert {e.opened_by.revision for e in now.values()} == {2}


def run_in_thread(target) -> threading.Thread:
    def wrapper():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=wrapper)
    thread.start()
    return thread


def try_change(start, ifuid) -> str:
    try:
        store.apply_change(
            hetdex(),
            {"013": make_unit(ifuid), "014": make_unit(ifuid, specslot="043")},
            valid_from=start,
            replace_all=True,
        )
        return "ok"
    except store.ChangeRefused:
        return "refused"
    except Exception as exc:  # a lost race surfaces as a database error
        return f"error: {exc}"


@pytest.mark.django_db(transaction=True)
def test_a_commit_racing_one_in_progress_waits_for_it_and_sees_it():
    make_history((T0, {"013": make_unit("024")}))
    inside, release, outcome = threading.Event(), threading.Event(), {}

    def slow_commit():
        with transaction.atomic():
            outcome["first"] = try_change(T2, "031")
            inside.set()
            release.wait(30)  # still holding the instrument while the second commit starts

    def racing_commit():
        inside.wait(30)
        outcome["second"] = try_change(T1, "032")  # read before the first one commits

    threads = [run_in_thread(slow_commit), run_in_thread(racing_commit)]
    inside.wait(30)
    # Let the racer get as far as it can while the first commit is open. The outcome does
    # not depend on this pause; without it the racer would often just start too late.
    time.sleep(0.5)
    release.set()
    for thread in threads:
        thread.join(60)
    assert outcome == {"first": "ok", "second": "refused"}
    check_no_overlap()


@pytest.mark.django_db(transaction=True)
def test_commits_started_together_land_whole_or_not_at_all():
    hetdex()
    outcomes = []
    for round_ in range(8):
        base = T0 + timedelta(days=10 * round_)
        barrier = threading.Barrier(2)

        def commit(start, ifuid, barrier=barrier):
            barrier.wait()
            outcomes.append(try_change(start, ifuid))

        threads = [
            run_in_thread(partial(commit, base + timedelta(hours=h), f"{2 * round_ + h:03d}"))
            for h in (1, 2)
        ]
        for thread in threads:
            thread.join(60)
    assert set(outcomes) <= {"ok", "refused"}, outcomes
    assert outcomes.count("ok") >= 8  # the later start of each pair always lands
    check_no_overlap()


def check_no_overlap():
    for slot in ("013", "014"):
        entries = list(ConfigEntry.objects.filter(slot__name=slot).order_by("valid_from"))
        for earlier, later in pairwise(entries):
            assert earlier.valid_until == later.valid_from
        assert entries[-1].valid_until is None
