"""What waits in the job queue: the task messages Celery's Redis transport holds.

Used to find jobs recorded as queued whose message is gone (a Redis that lost its data, a
queue flushed by hand), so that they can be queued again instead of waiting for ever.
"""

import base64
import json

import redis
from django.conf import settings

# kombu's Redis transport: a list per queue (one more per priority step), and the messages
# delivered to a worker but not yet acknowledged in one hash.
PRIORITY_SEPARATOR = "\x06\x16"
UNACKED = "unacked"


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def _messages(client: redis.Redis, queue: str):
    for key in [queue, *(f"{queue}{PRIORITY_SEPARATOR}{p}" for p in (3, 6, 9))]:
        yield from client.lrange(key, 0, -1)
    for raw in client.hvals(UNACKED):
        yield json.dumps(json.loads(raw)[0])


def pending_first_args(task_name: str, queue: str) -> set:
    """The first positional argument (a job's id) of every ``task_name`` message waiting in
    ``queue`` or held by a worker that has not yet started it. Raises redis.RedisError if
    Redis is not there."""
    found = set()
    for raw in _messages(_client(), queue):
        try:
            message = json.loads(raw)
            if message["headers"].get("task") != task_name:
                continue
            body = message["body"]
            if message["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            found.add(json.loads(body)[0][0])
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # not a Celery message of ours (or one without arguments)
    return found
