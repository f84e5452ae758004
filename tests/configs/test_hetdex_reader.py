"""Every fplane file Beamtime writes, read the way HETDEX's own software reads it.

``hetdex_read`` follows pyhetdex's ``FPlane`` (pyhetdex/het/fplane.py), written here from its
documented rules rather than imported: lines starting with ``#`` are skipped, the rest are
split on whitespace into IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC; the column is
``int(ifuslot[:2])`` and the row ``int(ifuslot[2])``; SPECID and SPECSLOT are integers; the
IFUs are indexed by IFUID, by IFUSLOT and by SPECID (so a repeated one would be lost).
"""

import io
import json

import pytest
from django.core.management import call_command

from tests.factory import hetdex, make_api_key, make_report


def hetdex_read(text: str) -> list[dict]:
    ifus = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        slot, x, y, specid, specslot, ifuid, ifurot, platesc = line.split()
        ifus.append(
            {
                "ifuslot": slot,
                "column": int(slot[0:2]),
                "row": int(slot[2]),
                "x": float(x),
                "y": float(y),
                "specid": int(specid),
                "specslot": int(specslot),
                "ifuid": ifuid,
                "ifurot": float(ifurot),
                "platesc": float(platesc),
            }
        )
    for key in ("ifuid", "ifuslot", "specid"):
        values = [i[key] for i in ifus]
        assert len(values) == len(set(values)), f"a repeated {key} would be lost"
    return ifus


def check_hetdex_file(text: str, *, actual_pos: bool, full: bool) -> list[dict]:
    ifus = hetdex_read(text)
    for ifu in ifus:
        assert 1 <= ifu["column"] <= 10 and 0 <= ifu["row"] <= 9, ifu
        if not actual_pos:
            # HETDEX's nominal positions: 013 at (-450, 150), 103 at (450, 150)
            assert (ifu["x"], ifu["y"]) == (
                (ifu["column"] - 5.5) * 100,
                (4.5 - ifu["row"]) * 100,
            ), ifu
    by_slot = {i["ifuslot"]: i for i in ifus}
    if full:
        assert (by_slot["056"]["specid"], by_slot["056"]["ifuid"]) == (503, "7001")  # LRS2-B
        assert (by_slot["066"]["specid"], by_slot["066"]["ifuid"]) == (502, "7002")  # LRS2-R
    else:
        assert "056" not in by_slot and "066" not in by_slot
    # The full file lists every seat, commented or not; pyhetdex sees the uncommented ones.
    listed = [line for line in text.splitlines() if not line.startswith("##")]
    if full:
        assert len(listed) == 84
    return ifus


@pytest.fixture
def demo(db):
    call_command("load_demo", stdout=io.StringIO())
    return hetdex()


@pytest.mark.parametrize(("actual_pos", "full"), [(0, 1), (1, 1), (0, 0), (1, 0)])
def test_every_file_of_the_demo_history_reads_as_hetdex_reads_it(client, demo, actual_pos, full):
    seen = set()
    for change in demo.changes.order_by("valid_from"):
        at = f"{change.valid_from:%Y%m%dT%H:%M:%S}"
        response = client.get(f"/fplane/{at}?actual_pos={actual_pos}&full_fplane={full}")
        assert response.status_code == 200
        ifus = check_hetdex_file(response.content.decode(), actual_pos=actual_pos, full=full)
        seen |= {(i["column"], i["row"]) for i in ifus}
    assert (10, 3) in seen  # column 10 is used, as on the real plate


def test_the_file_an_update_answers_with_reads_as_hetdex_reads_it(client, alice, demo):
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(
        Permission.objects.get(codename="add_change", content_type__app_label="configs")
    )
    report = make_report(
        {
            "103": {"type": "VIRUS", "ifuid": "004", "specid": "020", "specslot": "158"},
            "056": {"type": "LRS", "ifuid": 7001, "specid": 503, "specslot": 0},
            "066": {"type": "LRS", "ifuid": 7002, "specid": 502, "specslot": 0},
        }
    )
    response = client.post(
        "/fplane",
        json.dumps({"config": report, "commit": False}),
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {make_api_key(alice, scopes=['read', 'write:fplane'])[1]}"
        },
    )
    assert response.status_code == 200
    ifus = check_hetdex_file(response.content.decode(), actual_pos=False, full=True)
    assert [(i["ifuslot"], i["column"], i["row"], i["x"], i["y"]) for i in ifus] == [
        ("056", 5, 6, -50.0, -150.0),
        ("066", 6, 6, 50.0, -150.0),
        ("103", 10, 3, 450.0, 150.0),
    ]
