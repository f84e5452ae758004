"""The fplane files GET /fplane/<date> answers: found by validity interval, kept per process,
and never older than the last committed write, whichever process made it."""

import os
import random
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from beamtime.configs import served, store
from beamtime.configs.fplane import parse, render, rows_for
from beamtime.configs.instruments import HETDEX
from beamtime.configs.models import Change, Instrument
from tests.conftest import database_url
from tests.factory import hetdex, make_history, make_unit

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2017, 9, 2, 20, tzinfo=UTC)
T2 = datetime(2018, 3, 5, 7, 30, tzinfo=UTC)
DAY = timedelta(days=1)
OPTIONS = [(a, f) for a in (False, True) for f in (False, True)]


def orm_file(instrument, when, as_of, actual_pos, full) -> str:
    """The peer: the ORM's configuration_at, rendered by the format module."""
    found = store.configuration_at(instrument, when, as_of)
    configuration = {slot: e.attributes for slot, e in found.items()}
    return render(rows_for(configuration, actual_pos=actual_pos, full=full))


def as_datetime(boundary) -> datetime:
    """A boundary as the database driver returns it (SQLite: text) as an aware datetime."""
    if isinstance(boundary, datetime):
        return boundary if boundary.tzinfo else boundary.replace(tzinfo=UTC)
    return datetime.fromisoformat(boundary).replace(tzinfo=UTC)


@pytest.fixture
def rich_history(db):
    """Changes that empty and refill seats, measured positions, an inactive and an LRS2
    unit; then corrections of a closed past interval and from a date on; a tag between."""
    make_history(
        (
            T0,
            {
                "013": make_unit("024", measured={"x": -451.25, "y": 150.5}),
                "014": make_unit("025", specid="038"),
                "056": make_unit("7001", specid="503", specslot="000", type="LRS"),
                "073": make_unit("030", active=False),
            },
        ),
        (T1, {"013": make_unit("031"), "056": make_unit("7001", specid="503", type="LRS")}),
        (
            T2,
            {
                "013": make_unit("031"),
                "014": make_unit("026", measured={"x": -449.0, "y": 50.0}),
                "073": make_unit("030"),
            },
        ),
    )
    instrument = hetdex()
    before = timezone.now()
    store.correct(
        instrument,
        {"013": make_unit("033"), "014": None},
        valid_from=T0 + 5 * DAY,
        valid_until=T0 + 40 * DAY,
        reason="logbook",
    )
    tagged = store.tag(instrument, "HDR1", publish=True).as_of
    store.correct(instrument, {"073": make_unit("034")}, valid_from=T2 + 3 * DAY, reason="swap")
    return [None, before, tagged]


def test_the_file_at_any_instant_is_the_orms_and_the_one_at_its_boundary(rich_history):
    instrument = Instrument.objects.get(pk=hetdex().pk)
    bounds = {c.valid_from for c in Change.objects.all()}
    bounds |= {c.valid_until for c in Change.objects.exclude(valid_until=None)}
    tiny = timedelta(microseconds=1)
    instants = sorted({b + d for b in bounds for d in (-tiny, 0 * tiny, tiny, timedelta(hours=3))})
    rng = random.Random(7)
    instants += [T0 + (T2 + 30 * DAY - T0) * rng.random() for _ in range(40)]
    compared = set()
    for when in instants:
        if when < T0:
            assert served.locate(HETDEX, when.isoformat()).boundary is None
            continue
        located = served.locate(HETDEX, when.isoformat())
        assert located.when == when and located.instrument.revision == instrument.revision
        boundary = as_datetime(located.boundary)
        assert boundary <= when and boundary in bounds
        for as_of in rich_history:
            for actual_pos, full in OPTIONS:
                text, read = served.file_at(
                    instrument, when, as_of, actual_pos=actual_pos, full=full
                )
                assert read == instrument.revision
                assert text == orm_file(instrument, when, as_of, actual_pos, full)
                assert text == orm_file(instrument, boundary, as_of, actual_pos, full)
                compared.add(text)
    assert len(compared) > 12  # the views and options differ where they should


@pytest.mark.django_db
def test_instants_of_one_interval_share_one_rendered_file(client, django_assert_num_queries):
    make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
    first = client.get("/fplane/20170601T03:04:05?full_fplane=0")
    with django_assert_num_queries(1):  # the instrument row and the interval: nothing rendered
        other = client.get("/fplane/20170815?full_fplane=0")
    assert other.content == first.content
    assert other["Content-Disposition"] == 'attachment; filename="fplane20170815.txt"'
    after = client.get("/fplane/20170903?full_fplane=0")
    assert [r.ifuid for r in parse(after.content.decode())] == ["031"]


@pytest.mark.django_db
def test_a_miss_is_two_statements_and_reads_the_revision_with_the_entries(
    client, django_assert_num_queries
):
    make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
    with django_assert_num_queries(2):  # the interval, then the entries with the revision
        assert ifuid(client.get("/fplane/20170601?full_fplane=0")) == "024"
    located = served.locate(HETDEX, "20170601")
    store.correct(hetdex(), {"013": make_unit("033")}, valid_from=T0, reason="logbook")
    text, read = served.file_at(located.instrument, located.when, None, actual_pos=0, full=0)
    assert (read, [r.ifuid for r in parse(text)]) == (located.instrument.revision + 1, ["033"])


@pytest.mark.django_db
def test_a_file_rendered_after_a_write_came_between_is_not_kept(client, monkeypatch):
    """A writer commits after the request has located its interval (revision 2) and before
    the entries are read: the file shows revision 3, says so, and is not kept as revision 2's
    (where another instant of the old interval, now split, would find it)."""
    from beamtime.configs import rest

    make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
    rest.RENDERED.items.clear()  # files of earlier tests' databases
    render = served.file_at

    def after_a_write(*args, **kwargs):
        store.correct(
            hetdex(), {"013": make_unit("033")}, valid_from=T0 + 30 * DAY, reason="logbook"
        )
        return render(*args, **kwargs)

    monkeypatch.setattr(served, "file_at", after_a_write)
    raced = client.get("/fplane/20170601?full_fplane=0")
    monkeypatch.undo()
    assert ifuid(raced) == "033" and raced["X-Configuration-Revision"] == "3"
    assert not [key for key in rest.RENDERED.items if key[1] == 2]
    assert ifuid(client.get("/fplane/20170201?full_fplane=0")) == "024"


def ifuid(response, slot="013") -> str:
    assert response.status_code == 200, response.content
    return {r.slot: r.ifuid for r in parse(response.content.decode())}[slot]


@pytest.mark.django_db
class TestWritesAreSeenByTheNextRead:
    def test_a_new_interval(self, client):
        make_history((T0, {"013": make_unit("024")}))
        assert ifuid(client.get("/fplane/?full_fplane=0")) == "024"  # cached now
        yesterday = timezone.now() - DAY
        store.apply_change(hetdex(), {"013": make_unit("027")}, valid_from=yesterday)
        assert ifuid(client.get("/fplane/?full_fplane=0")) == "027"
        assert ifuid(client.get(f"/fplane/{yesterday - DAY:%Y-%m-%dT%H:%M}Z")) == "024"

    def test_a_correction_of_a_cached_past_interval(self, client):
        make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
        warm = client.get("/fplane/20170601?full_fplane=0")
        assert ifuid(warm) == "024" and warm["X-Configuration-Revision"] == "2"
        store.correct(
            hetdex(), {"013": make_unit("033")}, valid_from=T0, valid_until=T1, reason="logbook"
        )
        corrected = client.get("/fplane/20170601?full_fplane=0")
        assert ifuid(corrected) == "033" and corrected["X-Configuration-Revision"] == "3"

    def test_a_tag_set_again_and_published(self, client):
        make_history((T0, {"013": make_unit("024")}))
        store.tag(hetdex(), "HDR2")
        assert ifuid(client.get("/fplane/20170601?tag=HDR2")) == "024"  # cached
        store.correct(hetdex(), {"013": make_unit("033")}, valid_from=T0, reason="logbook")
        store.tag(hetdex(), "HDR2", publish=True)  # now, after the correction
        assert ifuid(client.get("/fplane/20170601?tag=HDR2")) == "033"

    def test_a_published_tag_keeps_its_view_after_a_correction(self, client):
        make_history((T0, {"013": make_unit("024")}))
        store.tag(hetdex(), "HDR1", publish=True)
        assert ifuid(client.get("/fplane/20170601?tag=HDR1")) == "024"
        store.correct(hetdex(), {"013": make_unit("033")}, valid_from=T0, reason="logbook")
        assert ifuid(client.get("/fplane/20170601?tag=HDR1")) == "024"
        assert ifuid(client.get("/fplane/20170601")) == "033"

    def test_a_new_site_time_zone(self, client):
        # The night of 2017-06-01 ends at 05:00 UTC in Texas (CDT), at 00:00 in UTC.
        make_history((T0, {"013": make_unit("024")}))
        store.apply_change(
            hetdex(), {"013": make_unit("027")}, valid_from=datetime(2017, 6, 2, 3, tzinfo=UTC)
        )
        assert ifuid(client.get("/fplane/20170601")) == "027"
        Instrument.objects.filter(pk=hetdex().pk).update(timezone="UTC")
        assert ifuid(client.get("/fplane/20170601")) == "024"


WRITER = """
import django
django.setup()
from datetime import UTC, datetime
from beamtime.configs import store
from beamtime.configs.models import Instrument
from tests.factory import make_unit

hetdex = Instrument.objects.get(name="hetdex")
store.correct(hetdex, {"013": make_unit("033")}, valid_from=datetime(2017, 1, 10, 18, tzinfo=UTC),
              valid_until=datetime(2017, 9, 2, 20, tzinfo=UTC), reason="from another process")
store.apply_change(hetdex, {"013": make_unit("040")}, valid_from=datetime(2018, 6, 1, tzinfo=UTC))
store.tag(hetdex, "HDR2", publish=True)
"""


def test_writes_of_another_process_are_seen_with_a_warm_cache(transactional_db, client):
    make_history((T0, {"013": make_unit("024")}), (T1, {"013": make_unit("031")}))
    store.tag(hetdex(), "HDR2")  # set again and published by the other process
    urls = ["/fplane/20170601", "/fplane/20180715", "/fplane/20170601?tag=HDR2"]
    assert [ifuid(client.get(url)) for url in urls] == ["024", "031", "024"]
    assert [ifuid(client.get(url)) for url in urls] == ["024", "031", "024"]  # from the cache
    env = {
        **os.environ,
        "BEAMTIME_DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "beamtime.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WRITER)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [ifuid(client.get(url)) for url in urls] == ["033", "040", "033"]
