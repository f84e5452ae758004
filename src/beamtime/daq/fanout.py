"""The fan-out of one step to many ECC servers or data routers at once: a thread each (up to
MAX_THREADS), and their state changes and log entries written together (Saves).
"""

import logging
import threading
import traceback
from collections import defaultdict

from django.db import connection, transaction

from beamtime.daq.models import DataRouter, ECCServer, LogEntry

log = logging.getLogger("beamtime.daq")
# Talking to ECC servers is waiting on the network: a thread per server, to a bound.
MAX_THREADS = 256
FLUSH = 0.1  # seconds between the writes of a fan-out's state changes (Saves)


def in_parallel(objects: list, step) -> list:
    """Run ``step(obj)`` for every object at once (up to MAX_THREADS at a time); the results
    in the same order. ECC servers' state changes are written together (Saves).

    The threads wait for each other before they begin: started one by one while the first
    ones already work, the last of two hundred began a second late, the starting thread
    waiting its turn for the interpreter lock each time."""
    if not objects:
        return []
    results = [None] * len(objects)
    todo = iter(range(len(objects)))
    lock = threading.Lock()
    count = min(MAX_THREADS, len(objects))
    ready = threading.Barrier(count)

    def one(obj):
        try:
            return step(obj)
        except Exception:  # a bug with one server must not stop the others: log it, go on
            log.exception("%s: unexpected error", obj)
            log_error(obj, "unexpected error (the details are in the server's log)")
            return None

    def work():
        Saves.current.saves = saves
        try:
            ready.wait()
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                results[i] = one(objects[i])
        finally:
            Saves.current.saves = None
            connection.close()  # each thread has a connection of its own

    with Saves() as saves:
        threads = [threading.Thread(target=work, daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results


def log_error(component: ECCServer | DataRouter, message: str, with_traceback=False) -> None:
    """An entry in the experiment's Log entries panel, from an ECC server or a data router.
    In a fan-out, the write is left to its Saves."""
    entry = LogEntry(
        experiment_id=component.experiment_id,
        source=component.name,
        message=message,
        traceback=traceback.format_exc() if with_traceback else "",
    )
    saves = getattr(Saves.current, "saves", None)
    if saves is None:
        entry.save()
    else:
        saves.log(entry)


class Saves:
    """The rows that the threads of one fan-out (in_parallel) change, and the
    log entries they make, written together every ``every`` seconds in one transaction by a
    thread of its own.

    Two hundred servers answering at once then cost a few commits instead of two hundred,
    each of which waits for SQLite's one write lock and a disk sync (about 16 ms here):
    twenty servers found offline by Stop all were a third of a second of "not reached".
    """

    current = threading.local()  # the Saves a fan-out's thread writes into, if any

    def __init__(self, every: float = FLUSH):
        self.every, self.rows, self.entries, self.lock = every, {}, [], threading.Lock()
        self.done = threading.Event()
        self.writer = threading.Thread(target=self.write_until_done, daemon=True)

    def add(self, pk: int, fields: dict) -> None:
        with self.lock:
            self.rows.setdefault(pk, {}).update(fields)

    def log(self, entry: LogEntry) -> None:
        with self.lock:
            self.entries.append(entry)

    def last_word(self, experiment_id: int, source: str, prefixes: tuple) -> str | None:
        """The last message not yet written from ``source`` that starts with one of
        ``prefixes``."""
        with self.lock:
            for entry in reversed(self.entries):
                mine = (entry.experiment_id, entry.source) == (experiment_id, source)
                if mine and entry.message.startswith(prefixes):
                    return entry.message
        return None

    def pending(self, pk: int, field: str) -> bool:
        with self.lock:
            return field in self.rows.get(pk, {})

    def write(self) -> None:
        with self.lock:
            rows, self.rows = self.rows, {}
            entries, self.entries = self.entries, []
        if not rows and not entries:
            return
        same = defaultdict(list)  # rows getting the same values: one UPDATE
        for pk, fields in rows.items():
            same[tuple(sorted(fields.items()))].append(pk)
        try:
            with transaction.atomic():
                for fields, pks in same.items():
                    ECCServer.objects.filter(pk__in=pks).update(**dict(fields))
                LogEntry.objects.bulk_create(entries)
        except Exception:
            log.exception(
                "cannot write the state of %d ECC servers and %d log entries; trying again",
                len(rows),
                len(entries),
            )
            with self.lock:  # keep them, under what came since
                for pk, fields in rows.items():
                    self.rows[pk] = {**fields, **self.rows.get(pk, {})}
                self.entries[:0] = entries

    def write_until_done(self) -> None:
        try:
            while not self.done.wait(self.every):
                self.write()
            self.write()
        finally:
            connection.close()

    def __enter__(self):
        self.writer.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.writer.join()


def save(server: ECCServer, **fields) -> None:
    """Write the fields that changed; polling writes nothing while nothing changes. In a
    fan-out, the write is left to its Saves."""
    changed = {name: value for name, value in fields.items() if getattr(server, name) != value}
    if not changed:
        return
    for name, value in changed.items():
        setattr(server, name, value)
    saves = getattr(Saves.current, "saves", None)
    if saves is None:
        ECCServer.objects.filter(pk=server.pk).update(**changed)
    else:
        saves.add(server.pk, changed)
