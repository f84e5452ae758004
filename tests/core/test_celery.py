from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from beamtime.core.tasks import clear_expired_sessions


def make_session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["who"] = "someone"
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    return store.session_key


@pytest.mark.django_db(transaction=True)
def test_a_task_makes_the_round_trip_through_redis_and_a_worker(celery_worker):
    expired = make_session(timedelta(hours=-1))
    live = make_session(timedelta(hours=1))

    result = clear_expired_sessions.delay()
    # Not eager: the task is queued in Redis and run by the worker process.
    assert result.get(timeout=30) == 1
    assert result.successful()
    assert not Session.objects.filter(pk=expired).exists()
    assert Session.objects.filter(pk=live).exists()


def test_tasks_are_not_run_eagerly():
    from beamtime.celery import app

    assert app.conf.task_always_eager is False


def test_beat_clears_sessions_hourly():
    from beamtime.celery import app

    entry = app.conf.beat_schedule["clear-expired-sessions"]
    assert entry["task"] == clear_expired_sessions.name
    assert entry["schedule"] == 3600.0


def test_periodic_tasks_expire_after_their_period():
    from beamtime.celery import app

    for name, entry in app.conf.beat_schedule.items():
        assert entry["options"]["expires"] == entry["schedule"], name


@pytest.mark.django_db(transaction=True)
def test_the_platform_stores_no_results(celery_worker, redis_server):
    import time

    import redis

    from beamtime import settings as platform_settings

    assert platform_settings.CELERY_TASK_IGNORE_RESULT is True  # the suite's own reads them
    expired = make_session(timedelta(hours=-1))
    result = clear_expired_sessions.apply_async(ignore_result=True)  # as the platform sends it
    for _ in range(100):
        if not Session.objects.filter(pk=expired).exists():
            break
        time.sleep(0.2)
    else:
        pytest.fail("the task did not run")
    time.sleep(0.5)
    assert redis.Redis.from_url(redis_server).keys(f"*{result.id}*") == []
    # Whereas a caller that asks for the result gets it.
    asked = clear_expired_sessions.apply_async(ignore_result=False)
    assert asked.get(timeout=30) == 0
    assert redis.Redis.from_url(redis_server).keys(f"*{asked.id}*") != []
