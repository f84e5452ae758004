"""Queued work survives: the embedded Redis keeps its data on disk, and jobs recorded as
queued whose message is gone are queued again."""

import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from beamtime import embedded_redis
from beamtime.core.broker import pending_args
from beamtime.fitting import jobs
from beamtime.fitting.models import Dataset, FitJob
from beamtime.fitting.tasks import run_fit


def start_redis(sock: Path) -> subprocess.Popen:
    proc = subprocess.Popen(embedded_redis.command(sock), stdout=subprocess.DEVNULL)
    embedded_redis.wait_until_ready(f"unix://{sock}", proc)
    return proc


def test_the_embedded_redis_snapshots_and_logs_every_write(redis_server):
    client = redis.Redis.from_url(redis_server)
    assert client.config_get("save") == {"save": "60 1"}
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    # In the data directory, beside the socket.
    assert client.config_get("dir")["dir"] == str(embedded_redis.socket_path(redis_server).parent)


def test_a_queued_message_survives_a_crash_of_redis():
    with tempfile.TemporaryDirectory(prefix="bt-") as folder:  # short: a socket path
        sock = Path(folder) / "redis.sock"
        proc = start_redis(sock)
        try:
            redis.Redis(unix_socket_path=str(sock)).lpush("fits", b"a queued job")
            proc.kill()  # SIGKILL: no chance to save on the way out
            proc.wait()
            proc = start_redis(sock)
            assert redis.Redis(unix_socket_path=str(sock)).lrange("fits", 0, -1) == [
                b"a queued job"
            ]
            assert (Path(folder) / "appendonly.aof").stat().st_size > 0
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def fits_queue_held(redis_server):
    """No worker of this test session takes messages from the fits queue meanwhile."""
    from beamtime.celery import app

    app.control.cancel_consumer("fits", reply=True, timeout=2)
    yield redis.Redis.from_url(redis_server)
    redis.Redis.from_url(redis_server).delete("fits")
    app.control.add_consumer("fits", reply=True, timeout=2)


def make_queued_fit(user, minutes_ago: float) -> FitJob:
    dataset = Dataset.objects.create(owner=user, name="d.txt", content="0.01 1 0.1\n", points=1)
    job = FitJob.objects.create(owner=user, dataset=dataset, model={}, engine="lm", options={})
    FitJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return job


@pytest.mark.django_db
def test_a_queued_fit_whose_message_was_lost_is_queued_again(alice, fits_queue_held):
    lost = make_queued_fit(alice, minutes_ago=5)
    waiting = make_queued_fit(alice, minutes_ago=5)
    just_submitted = make_queued_fit(alice, minutes_ago=0)
    fits_queue_held.delete("fits")
    run_fit.delay(waiting.pk)

    assert jobs.requeue_lost() == 1
    assert pending_args(run_fit.name, "fits") == {(waiting.pk,), (lost.pk,)}
    assert just_submitted.pk not in {a[0] for a in pending_args(run_fit.name, "fits")}
    # Now every queued fit has its message: nothing more to do.
    assert jobs.requeue_lost() == 0
