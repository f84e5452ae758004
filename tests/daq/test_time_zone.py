"""Times on the pages are shown in the facility's time zone (BEAMTIME_TIME_ZONE)."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from beamtime import conf
from beamtime.daq.models import RunMetadata
from tests.factory import make_experiment

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.django_db
def test_a_run_start_is_shown_in_the_facility_time_zone(client, settings, alice):
    settings.TIME_ZONE = "America/New_York"  # EST in December: UTC−5
    experiment = make_experiment(members=[alice])
    RunMetadata.objects.create(
        experiment=experiment,
        run_number=0,
        start_datetime=datetime(2026, 12, 7, 3, 0, 0, tzinfo=UTC),
        stop_datetime=datetime(2026, 12, 7, 4, 30, 0, tzinfo=UTC),
    )
    client.force_login(alice)
    sheet = client.get("/daq/runs/0").content.decode()
    assert "Started 2026-12-06 22:00:00 EST, stopped 2026-12-06 23:30:00 EST" in sheet
    table = client.get("/daq/runs/").content.decode()
    assert "2026-12-06 22:00:00" in table and "America/New_York" in table


def test_the_zone_is_checked_against_the_zone_database(monkeypatch):
    monkeypatch.setenv("BEAMTIME_TIME_ZONE", "Europe/Paris")
    assert conf.envzone("TIME_ZONE", "UTC") == "Europe/Paris"
    monkeypatch.delenv("BEAMTIME_TIME_ZONE")
    assert conf.envzone("TIME_ZONE", "UTC") == "UTC"
    for bad in ["Mars/Olympus_Mons", "../../etc/passwd", ""]:
        monkeypatch.setenv("BEAMTIME_TIME_ZONE", bad)
        with pytest.raises(conf.ConfigError, match="BEAMTIME_TIME_ZONE="):
            conf.envzone("TIME_ZONE", "UTC")


def test_a_bad_zone_stops_start_up_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEAMTIME_", "DJANGO_"))}
    env |= {"BEAMTIME_HOME": str(tmp_path), "BEAMTIME_TIME_ZONE": "Mars/Olympus_Mons"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-m", "beamtime", "manage", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "BEAMTIME_TIME_ZONE='Mars/Olympus_Mons' is not a time zone" in out.stderr
    assert "Traceback" not in out.stderr
