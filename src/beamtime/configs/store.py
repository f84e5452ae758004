"""Reading and changing configuration history: the only code that writes entries."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from beamtime.configs.models import Change, ConfigEntry, Instrument, Slot


class ChangeRefused(Exception):
    """A change that would break the history; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def configuration_at(instrument: Instrument, when: datetime) -> dict[str, ConfigEntry]:
    # No ordering: the default one would join the instrument table for nothing.
    entries = (
        ConfigEntry.objects.valid_at(instrument, when)
        .select_related("slot", "opened_by")
        .order_by()
    )
    return {e.slot.name: e for e in entries}


def first_start(instrument: Instrument) -> datetime | None:
    first = instrument.changes.order_by("valid_from").first()
    return first.valid_from if first else None


def latest_start(instrument: Instrument) -> datetime | None:
    last = instrument.changes.order_by("-valid_from").first()
    return last.valid_from if last else None


class StartTooFarAhead(ChangeRefused):
    """Bad input rather than a conflict with the history."""


# A configuration is recorded when it is known; a start further ahead is a mistyped date
# that would block every later change.
MAX_AHEAD = timedelta(days=1)


def check_start(instrument: Instrument, start: datetime) -> None:
    """Refuse a change that would start more than a day ahead of now, or not after the
    current configuration's start."""
    if start > timezone.now() + MAX_AHEAD:
        raise StartTooFarAhead(
            f"start: {start:%Y-%m-%dT%H:%M:%SZ} is more than a day ahead of now",
            field="start",
        )
    last = latest_start(instrument)
    if last is not None and start <= last:
        raise ChangeRefused(
            f"the start {start:%Y-%m-%dT%H:%M:%SZ} is not after the start of the "
            f"current configuration ({last:%Y-%m-%dT%H:%M:%SZ})",
            field="start",
        )


def apply_change(
    instrument: Instrument,
    state: dict[str, dict | None],
    *,
    valid_from: datetime,
    user=None,
    reason: str = "",
    source: str = "web",
    replace_all: bool = False,
) -> Change | None:
    """Make ``state`` the configuration of ``instrument`` from ``valid_from`` on.

    ``state`` maps slot names to attributes, or to None to empty a slot; with
    ``replace_all`` every slot it does not name is emptied too. Entries whose attributes
    do not change keep their interval. Return the Change, or None when nothing differs
    (then nothing is written). Changes of one instrument are serialized, and each must
    start after the last one, so intervals never overlap.
    """
    with transaction.atomic():
        # The row lock serializes concurrent changes (SQLite: the IMMEDIATE transaction).
        instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
        check_start(instrument, valid_from)
        open_entries = {
            e.slot.name: e
            for e in ConfigEntry.objects.filter(
                slot__instrument=instrument, valid_until__isnull=True
            ).select_related("slot")
        }
        target = dict(state)
        if replace_all:
            target.update({name: None for name in open_entries if name not in state})
        updates = {
            name: attrs
            for name, attrs in target.items()
            if attrs != (open_entries[name].attributes if name in open_entries else None)
        }
        if not updates:
            return None

        change = Change.objects.create(
            instrument=instrument, valid_from=valid_from, made_by=user, reason=reason, source=source
        )
        slots = {s.name: s for s in Slot.objects.filter(instrument=instrument, name__in=updates)}
        for name, attrs in sorted(updates.items()):
            old = open_entries.get(name)
            if old is not None:
                old.valid_until = valid_from
                old.closed_by = change
                old.save(update_fields=["valid_until", "closed_by"])
            if attrs is not None:
                slot = slots.get(name) or Slot.objects.create(instrument=instrument, name=name)
                ConfigEntry.objects.create(
                    slot=slot, attributes=attrs, valid_from=valid_from, opened_by=change
                )
        return change


def diff(instrument: Instrument, before: datetime, after: datetime) -> list[dict]:
    """Per slot that differs: its attributes at ``before`` and at ``after`` (None: empty)."""
    old, new = configuration_at(instrument, before), configuration_at(instrument, after)
    rows = []
    for name in sorted(old.keys() | new.keys()):
        a = old[name].attributes if name in old else None
        b = new[name].attributes if name in new else None
        if a == b:
            continue
        if a is None or b is None:
            fields = sorted((a or b).keys())
        else:
            fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        rows.append({"slot": name, "before": a, "after": b, "fields": fields})
    return rows


def slot_history(slot: Slot):
    return slot.entries.select_related("opened_by__made_by").order_by("valid_from")
