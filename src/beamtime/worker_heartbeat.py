"""Each Celery worker says in Redis which queues it consumes, every EVERY seconds, under a key
that expires after TTL seconds; /healthz reads these (one quick Redis call) to tell which pools
have a live worker, without asking the workers and waiting for their answers."""

import contextlib
import json
import threading
import time

import redis
from django.conf import settings

PREFIX = "beamtime:worker:"
EVERY = 5
TTL = 20  # a worker silent this long is gone


def connect() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def publish(client: redis.Redis, hostname: str, queues: list[str]) -> None:
    client.set(PREFIX + hostname, json.dumps(sorted(queues)), ex=TTL)


def live_workers(client: redis.Redis) -> dict[str, list[str]]:
    """The live workers by name, each with the queues it consumes."""
    keys = sorted(client.scan_iter(PREFIX + "*", count=100))
    values = client.mget(keys) if keys else []
    return {
        key.decode()[len(PREFIX) :]: json.loads(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None  # expired between the scan and the read
    }


def start(consumer) -> None:
    """Publish this worker's queues now and then every EVERY seconds (from worker_ready)."""
    hostname = consumer.hostname
    queues = list(consumer.app.amqp.queues.consume_from)
    client = connect()
    publish(client, hostname, queues)

    def beat():
        while True:
            time.sleep(EVERY)
            # Redis away for a moment: the next beat tries again
            with contextlib.suppress(redis.RedisError):
                publish(client, hostname, queues)

    threading.Thread(target=beat, name="beamtime heartbeat", daemon=True).start()


def stop(hostname: str) -> None:
    """Remove this worker's key at a clean shutdown, so /healthz knows at once."""
    with contextlib.suppress(redis.RedisError):  # else the key expires by itself
        connect().delete(PREFIX + hostname)
