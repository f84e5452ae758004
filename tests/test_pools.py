"""A fit stops at its pool's time limit: `beamtime worker --queues fits` as another machine
runs it, with a limit of one minute, and a real DREAM fit that would take far longer."""

import os
import subprocess
import sys
import time

import pytest

from beamtime.fitting import jobs
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitJob
from tests.conftest import database_url
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER

pytestmark = pytest.mark.slow


@pytest.fixture
def fits_worker(transactional_db, redis_server):
    """A worker of the fits queue alone, with a time limit of one minute; the suite's own
    workers leave that queue meanwhile."""
    from django.db import connection

    from beamtime.celery import app

    app.control.cancel_consumer("fits", reply=True, timeout=2)
    env = {
        **os.environ,
        "BEAMTIME_DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "beamtime.settings",
        "BEAMTIME_FIT_TIME_LIMIT_MINUTES": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamtime", "worker", "--queues", "fits", "--concurrency", "1"],
        env=env,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)
        app.control.add_consumer("fits", reply=True, timeout=2)


def test_a_fit_past_its_pools_time_limit_is_stopped_and_says_why(alice, fits_worker):
    data = Dataset.objects.create(
        owner=alice, name="d.txt", content=DOUBLE_LAYER.decode(), points=300
    )
    model = LayerModel.from_dict(session_model())
    # Far more samples than a minute draws on this machine.
    job = jobs.submit(alice, data, model, "dream", {"samples": 1_000_000, "burn": 1_000_000})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in FitJob.FINISHED:
            break
        time.sleep(1)
    # Stopped by itself 15 s before the limit, keeping where it had got to.
    assert job.state == FitJob.CANCELLED, (job.state, job.message)
    assert job.message == (
        "stopped at the fits' time limit (1 min, BEAMTIME_FIT_TIME_LIMIT_MINUTES): the result "
        "is where the fit had got to"
    )
    assert job.result["values"] and job.step > 0
    assert 44 < (job.finished_at - job.started_at).total_seconds() < 55
    assert fits_worker.poll() is None
