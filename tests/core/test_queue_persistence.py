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
from beamtime.core.broker import pending_first_args
from beamtime.fitting import jobs
from beamtime.fitting.models import Dataset, FitJob
from beamtime.fitting.tasks import run_fit
from beamtime.reduction import jobs as reduction_jobs


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


def held(redis_server, queue: str):
    """No worker of this test session takes messages from ``queue`` meanwhile."""
    from beamtime.celery import app

    app.control.cancel_consumer(queue, reply=True, timeout=2)
    yield redis.Redis.from_url(redis_server)
    redis.Redis.from_url(redis_server).delete(queue)
    app.control.add_consumer(queue, reply=True, timeout=2)


@pytest.fixture
def fits_queue_held(redis_server):
    yield from held(redis_server, "fits")


@pytest.fixture
def reduction_queue_held(redis_server):
    yield from held(redis_server, "reduction")


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
    assert pending_first_args(run_fit.name, "fits") == {waiting.pk, lost.pk}
    assert just_submitted.pk not in pending_first_args(run_fit.name, "fits")
    # Now every queued fit has its message: nothing more to do.
    assert jobs.requeue_lost() == 0


def queued_calculation(user, key: str, seconds_ago: float) -> dict:
    job = reduction_jobs.submit(user, {"calculate": {"node": 0}}, key)
    reduction_jobs._save({**job, "queued_at": job["queued_at"] - seconds_ago})
    return job


@pytest.mark.django_db
def test_a_queued_calculation_whose_message_was_lost_fails_with_a_message(
    alice, client, reduction_queue_held
):
    lost = queued_calculation(alice, "lost", seconds_ago=120)
    just_queued = queued_calculation(alice, "just", seconds_ago=0)
    reduction_queue_held.delete("reduction")  # their messages are gone
    waiting = queued_calculation(alice, "waiting", seconds_ago=120)  # its message waits

    client.force_login(alice)
    seen = {
        name: client.get(reduction_jobs.public(job)["url"]).json()
        for name, job in [("lost", lost), ("waiting", waiting), ("just", just_queued)]
    }
    assert seen["lost"]["state"] == "failed"
    assert seen["lost"]["error"] == {
        "error": "the calculation's message was lost from the job queue (restarted?): ask again"
    }
    assert seen["waiting"]["state"] == "queued"  # a busy pool may keep it waiting
    assert seen["just"]["state"] == "queued"  # sent a moment ago: not yet asked about
    # Asked again, the result gets a new job instead of joining the lost one.
    again = reduction_jobs.submit(alice, {"calculate": {"node": 0}}, "lost")
    assert again["id"] != lost["id"] and again["state"] == "queued"
    assert again["id"] in pending_first_args(reduction_jobs.TASK, "reduction")


@pytest.mark.django_db
def test_a_running_calculation_past_its_hard_limit_is_failed(alice, client, redis_server):
    job = reduction_jobs.new(alice)
    late = job["time_limit"] + 15 + 60  # its worker would have killed it by now
    reduction_jobs._save({**job, "state": "running", "started_at": job["queued_at"] - late})
    client.force_login(alice)
    seen = client.get(reduction_jobs.public(job)["url"]).json()
    assert seen["state"] == "failed"
    assert seen["error"] == {"error": "the calculation's worker was lost"}
