"""Importing the past from fplane files: one transaction, idempotent, refusals that name the
file and line."""

import io
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command

from beamtime.configs import store
from beamtime.configs.client import MAX_FILES
from beamtime.configs.models import Change, ConfigEntry
from tests.factory import hetdex, make_api_key, make_user

# A few rows of the fplane file in pyhetdex's test data (tests/data/fplane.txt), as HETDEX
# wrote it: tabs, two-digit SPECIDs, empty seats uncommented with 00/000.
HETDEX_FILE = (
    "##IFUSLOT X_FP   Y_FP   SPECID SPECSLOT IFUID IFUROT PLATESC\n"
    "013\t-450.0\t150.0\t00\t000\t000\t0.0\t1.0\n"
    "073\t150.0\t150.0\t04\t136\t023\t0.0\t1.0\n"
    "074\t150.0\t50.0\t37\t151\t024\t0.0\t1.0\n"
    "103\t450.0\t150.0\t20\t158\t004\t0.0\t1.0\n"
)


@pytest.fixture
def staff(db):
    user = make_user("ops", is_staff=True)
    return {"Authorization": f"Bearer {make_api_key(user, 'ops', ['read', 'write:fplane'])[1]}"}


def send(client, headers, files, dry_run=False):
    return client.post(
        "/api/configs/hetdex/import",
        {"files": files, "dry_run": dry_run},
        content_type="application/json",
        headers=headers,
    )


def served(client, at: str, actual_pos: int = 0) -> str:
    return client.get(f"/fplane/{at}?actual_pos={actual_pos}&full_fplane=1").content.decode()


def test_a_hetdex_file_is_read_as_hetdex_means_it(client, staff):
    response = send(client, staff, [{"name": "fplane20180715.txt", "text": HETDEX_FILE}])
    assert response.status_code == 200, response.json()
    (outcome,) = response.json()
    assert outcome["start"] == "2018-07-16T05:00:00Z"  # midnight of that night in Texas
    assert outcome["changed_slots"] == ["073", "074", "103"]
    state = store.configuration_at(hetdex(), store.latest_start(hetdex()))
    assert {k: (e.attributes["specid"], e.attributes["ifuid"]) for k, e in state.items()} == {
        "073": ("004", "023"),
        "074": ("037", "024"),
        "103": ("020", "004"),
    }
    assert Change.objects.get().source == "import"


def test_the_demo_history_goes_out_as_files_and_comes_back_the_same(client, staff):
    call_command("load_demo", stdout=io.StringIO())
    starts = [f"{c.valid_from:%Y%m%dT%H:%M:%S}" for c in hetdex().changes.order_by("valid_from")]
    originals = {at: (served(client, at, 0), served(client, at, 1)) for at in starts}
    demo = [
        (e.slot.name, e.attributes, e.valid_from, e.valid_until)
        for e in ConfigEntry.objects.order_by("slot__name", "valid_from")
    ]
    ConfigEntry.objects.all().delete()
    Change.objects.all().delete()

    files = [{"name": f"fplane{at}.txt", "text": originals[at][1]} for at in starts]
    response = send(client, staff, files[::-1])  # any order
    assert response.status_code == 200, response.json()
    assert all(o["change"] for o in response.json())
    for at, (nominal, actual) in originals.items():
        assert served(client, at, 0) == nominal
        assert served(client, at, 1) == actual
    imported = [
        (e.slot.name, e.attributes, e.valid_from, e.valid_until)
        for e in ConfigEntry.objects.order_by("slot__name", "valid_from")
    ]
    assert imported == demo

    again = send(client, staff, files)  # idempotent
    assert again.status_code == 200
    assert [o["change"] for o in again.json()] == [None] * len(files)
    assert Change.objects.count() == len(starts)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [{"name": "fplane20180715.txt", "text": HETDEX_FILE + "074 0 0 01 001 099 0 1\n"}],
            "fplane20180715.txt line 6: IFUSLOT 074 appears twice",
        ),
        (
            [{"name": "fplane20180715.txt", "text": HETDEX_FILE + "100 0 0 001 001 099 0 1\n"}],
            "fplane20180715.txt line 6: IFUSLOT 100 (column 10, row 0) is not a seat",
        ),
        (
            [{"name": "fplane20180715.txt", "text": HETDEX_FILE.replace("\t023\t", "\t024\t")}],
            "fplane20180715.txt line 4: ifuid: IFU 024 is in two slots, 073 and 074",
        ),
        (
            [{"name": "current.txt", "text": HETDEX_FILE}],
            "current.txt: give its start, or name it fplaneYYYYMMDD.txt",
        ),
        (
            [{"name": "a.txt", "text": HETDEX_FILE, "start": "２０１８０７１５"}],
            "a.txt: start: cannot read the date",
        ),
        (
            [
                {"name": "fplane20180715.txt", "text": HETDEX_FILE},
                {"name": "x.txt", "text": HETDEX_FILE, "start": "2018-07-16T05:00:00Z"},
            ],
            "x.txt: starts at the same instant as fplane20180715.txt",
        ),
        # An empty or truncated file would empty the whole focal plane.
        ([{"name": "fplane20180715.txt", "text": ""}], "fplane20180715.txt: no unit rows"),
        (
            [{"name": "fplane20180715.txt", "text": HETDEX_FILE.split("073")[0]}],
            "fplane20180715.txt: no unit rows (truncated file?)",
        ),
        (
            [{"name": "fplane29991231.txt", "text": HETDEX_FILE}],
            "fplane29991231.txt: start: 3000-01-01T06:00:00Z is more than a day ahead",
        ),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_written(client, staff, files, message):
    good = {"name": "fplane20170101.txt", "text": HETDEX_FILE}
    response = send(client, staff, [good, *files])
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()
    assert not Change.objects.exists()


def test_a_file_that_would_rewrite_the_past_is_refused(client, staff):
    send(client, staff, [{"name": "fplane20190101.txt", "text": HETDEX_FILE}])
    changed = HETDEX_FILE.replace("\t023\t", "\t025\t")
    response = send(client, staff, [{"name": "fplane20180101.txt", "text": changed}])
    assert response.status_code == 400
    assert "the past is not rewritten" in response.json()["error"]
    assert Change.objects.count() == 1


def test_a_dry_run_says_what_would_change_and_writes_nothing(client, staff):
    response = send(client, staff, [{"name": "fplane20180715.txt", "text": HETDEX_FILE}], True)
    assert response.status_code == 200 and response.json()[0]["changed_slots"]
    assert not Change.objects.exists() and not ConfigEntry.objects.exists()


def test_only_staff_with_a_writing_key_may_import(client, alice, staff):
    files = [{"name": "fplane20180715.txt", "text": HETDEX_FILE}]
    _, key = make_api_key(alice, scopes=["read", "write:fplane"])
    assert send(client, {"Authorization": f"Bearer {key}"}, files).status_code == 403
    ops = make_user("ops2", is_staff=True)
    _, reader = make_api_key(ops, scopes=["read"])
    assert send(client, {"Authorization": f"Bearer {reader}"}, files).status_code == 403
    assert send(client, {}, files).status_code == 401
    assert not Change.objects.exists()


def test_the_management_command_imports_files_on_this_server(tmp_path, db):
    path = tmp_path / "fplane20180715T03:04:05.txt"
    path.write_text(HETDEX_FILE)
    out = io.StringIO()
    call_command("import_fplane", str(path), stdout=out)
    assert out.getvalue().startswith(
        "fplane20180715T03:04:05.txt  from 2018-07-15T03:04:05Z  change "
    )
    out = io.StringIO()
    call_command("import_fplane", str(path), stdout=out)
    assert "unchanged" in out.getvalue()
    with pytest.raises(CommandError, match="--start is for a single file"):
        call_command("import_fplane", str(path), str(path), "--start", "20180101")


def history_files(count: int) -> list[dict]:
    """``count`` daily fplane files from 2018-01-01, each with another IFU in slot 073."""
    days = [date(2018, 1, 1) + timedelta(days=k) for k in range(count)]
    return [
        {
            "name": f"fplane{day:%Y%m%d}.txt",
            "text": HETDEX_FILE.replace("\t023\t", f"\t{k + 100}\t"),
        }
        for k, day in enumerate(days)
    ]


def test_more_files_than_one_request_may_carry_are_refused_saying_to_batch(client, staff):
    """A request is one transaction, so it must end in seconds: at most MAX_FILES files."""
    response = send(client, staff, history_files(MAX_FILES + 1))
    assert response.status_code == 400
    assert response.json() == {
        "error": f"files: {MAX_FILES + 1} files in one request, at most {MAX_FILES} go in one: "
        "send them in batches, oldest first (beamtime fplane import does)",
        "field": "files",
    }
    assert not Change.objects.exists()
    assert send(client, staff, history_files(MAX_FILES)).status_code == 200


def test_the_management_command_imports_a_long_history_in_batches(tmp_path, db):
    for file in history_files(MAX_FILES * 2 + 1)[::-1]:
        (tmp_path / file["name"]).write_text(file["text"])
    out = io.StringIO()
    call_command("import_fplane", *sorted(map(str, tmp_path.iterdir()), reverse=True), stdout=out)
    assert len(out.getvalue().splitlines()) == MAX_FILES * 2 + 1
    assert hetdex().changes.count() == MAX_FILES * 2 + 1
    assert store.configuration_at(hetdex(), store.latest_start(hetdex()))["073"].attributes[
        "ifuid"
    ] == str(MAX_FILES * 2 + 100)


def test_a_huge_bad_value_in_a_file_is_named_not_echoed_whole(client, staff):
    text = HETDEX_FILE + f"104 450.0 50.0 21 159 {'9' * 15_000} 0.0 1.0\n"
    response = send(client, staff, [{"name": "fplane20180715.txt", "text": text}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("fplane20180715.txt line 6: IFUID '9999") and len(error) < 200
