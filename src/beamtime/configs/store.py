"""Reading and changing configuration history: the only code that writes entries."""

import re
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.models import Change, ConfigEntry, Instrument, Slot, Tag, known


class ViewError(ValueError):
    """A bad ``as_of`` or ``tag``; ``field`` names it."""

    def __init__(self, message: str, field: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def as_known(instrument: Instrument, as_of: str = "", tag: str = ""):
    """The instant a read looks from (None: the latest revision) and the tag naming it."""
    if as_of and tag:
        raise ViewError("give as_of or tag, not both", "tag")
    if tag:
        row = instrument.tags.filter(name=tag).first()
        if row is None:
            raise ViewError(f"no tag {tag!r} for {instrument.name}", "tag")
        return row.as_of, row
    if as_of:
        try:
            return parse_datestr(as_of, instrument.timezone)[0], None
        except DateError as exc:
            raise ViewError(str(exc), "as_of") from None
    return None, None


class ChangeRefused(Exception):
    """A change that would break the history; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def configuration_at(
    instrument: Instrument, when: datetime, as_of: datetime | None = None
) -> dict[str, ConfigEntry]:
    """The entries valid at ``when``, as known at ``as_of`` (None: the latest revision)."""
    # No ordering: the default one would join the instrument table for nothing.
    entries = (
        ConfigEntry.objects.valid_at(instrument, when, as_of)
        .select_related("slot", "opened_by")
        .order_by()
    )
    return {e.slot.name: e for e in entries}


def first_start(instrument: Instrument) -> datetime | None:
    first = instrument.changes.filter(is_correction=False).order_by("valid_from").first()
    return first.valid_from if first else None


def latest_start(instrument: Instrument) -> datetime | None:
    """The start of the current configuration: changes start after it, corrections may not
    reach before the first one."""
    last = instrument.changes.filter(is_correction=False).order_by("-valid_from").first()
    return last.valid_from if last else None


def revision_at(instrument: Instrument, as_of: datetime | None = None) -> Change | None:
    """The last change recorded by ``as_of`` (None: the latest)."""
    changes = instrument.changes.order_by("-revision")
    if as_of is not None:
        changes = changes.filter(made_at__lte=as_of)
    return changes.first()


def _next_revision(instrument: Instrument) -> int:
    return (instrument.changes.aggregate(n=Max("revision"))["n"] or 0) + 1


def _made(change: Change) -> Change:
    """Note a new revision on the instrument row (locked by the caller)."""
    Instrument.objects.filter(pk=change.instrument_id).update(
        revision=change.revision, revised_at=change.made_at
    )
    return change


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
            f"current configuration ({last:%Y-%m-%dT%H:%M:%SZ}); the past is changed by a "
            f"correction (POST /api/configs/{instrument.name}/corrections)",
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
                slot__instrument=instrument, valid_until__isnull=True, superseded_at__isnull=True
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

        now = timezone.now()
        change = Change.objects.create(
            instrument=instrument,
            valid_from=valid_from,
            made_by=user,
            reason=reason,
            source=source,
            made_at=now,
            revision=_next_revision(instrument),
        )
        # A few statements whatever the number of slots (the first run of two hundred ECC
        # servers: 400 rows), closed entries before new ones (one open entry per slot).
        closed = [open_entries[name].pk for name in updates if name in open_entries]
        ConfigEntry.objects.filter(pk__in=closed).update(
            valid_until=valid_from, closed_by=change, closed_at=now
        )
        opened = sorted(name for name, attrs in updates.items() if attrs is not None)
        slots = _slots(instrument, opened)
        ConfigEntry.objects.bulk_create(
            ConfigEntry(
                slot=slots[name],
                attributes=updates[name],
                valid_from=valid_from,
                opened_by=change,
                recorded_at=now,
            )
            for name in opened
        )
        return _made(change)


def _slots(instrument: Instrument, names: list[str]) -> dict[str, Slot]:
    """The instrument's slots of these names, the missing ones made."""
    slots = {s.name: s for s in Slot.objects.filter(instrument=instrument, name__in=names)}
    missing = [Slot(instrument=instrument, name=name) for name in names if name not in slots]
    if missing:
        Slot.objects.bulk_create(missing)
        slots.update(
            (s.name, s)
            for s in Slot.objects.filter(instrument=instrument, name__in=[m.name for m in missing])
        )
    return slots


def diff(
    instrument: Instrument,
    before: datetime,
    after: datetime,
    as_of: datetime | None = None,
    *,
    entries: bool = False,
) -> list[dict]:
    """Per slot that differs: its attributes at ``before`` and at ``after`` (None: empty);
    with ``entries``, the two entries too (``before_entry``, ``after_entry``)."""
    old = configuration_at(instrument, before, as_of)
    new = configuration_at(instrument, after, as_of)
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
        if entries:
            rows[-1].update(before_entry=old.get(name), after_entry=new.get(name))
    return rows


def slot_history(slot: Slot, as_of: datetime | None = None, *, everything: bool = False):
    """The entries of a slot as known at ``as_of``; with ``everything``, superseded ones too
    (each says when and by which correction)."""
    entries = slot.entries.select_related("opened_by__made_by", "superseded_by")
    if not everything:
        entries = entries.filter(known(as_of))
    return entries.order_by("valid_from", "recorded_at")


def _stored(entry: ConfigEntry, **fields) -> ConfigEntry:
    """A new row like ``entry`` (its interval cut by a correction)."""
    copy = ConfigEntry(
        slot_id=entry.slot_id,
        attributes=entry.attributes,
        valid_from=entry.valid_from,
        valid_until=entry.valid_until,
        opened_by_id=entry.opened_by_id,
        closed_by_id=entry.closed_by_id,
        closed_at=entry.closed_at,
    )
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


def correct(
    instrument: Instrument,
    state: dict[str, dict | None],
    *,
    valid_from: datetime,
    valid_until: datetime | None = None,
    user=None,
    reason: str,
    source: str = "web",
) -> Change | None:
    """Correct what ``state``'s slots held over [valid_from, valid_until) (open: from
    ``valid_from`` on): a new revision. The entries it replaces are kept, superseded; the
    parts of them outside the interval are recorded again unchanged. Return the Change, or
    None when the history already says this (then nothing is written).
    """
    if not reason.strip():
        raise ChangeRefused("a correction needs a reason", field="reason")
    if valid_until is not None and valid_until <= valid_from:
        raise ChangeRefused("valid_until must be after valid_from", field="valid_until")
    if valid_from > timezone.now() + MAX_AHEAD:
        raise StartTooFarAhead(
            f"valid_from: {valid_from:%Y-%m-%dT%H:%M:%SZ} is more than a day ahead of now",
            field="valid_from",
        )
    with transaction.atomic():
        instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
        first = first_start(instrument)
        if first is None or valid_from < first:
            raise ChangeRefused(
                "a correction cannot reach before the first configuration"
                + (f" ({first:%Y-%m-%dT%H:%M:%SZ})" if first else ""),
                field="valid_from",
            )
        now = timezone.now()
        plans = {}
        for name, attrs in sorted(state.items()):
            overlapping = ConfigEntry.objects.filter(
                known(), slot__instrument=instrument, slot__name=name
            ).exclude(valid_until__lte=valid_from)
            if valid_until is not None:
                overlapping = overlapping.filter(valid_from__lt=valid_until)
            overlapping = list(overlapping.order_by("valid_from"))
            if not _differs(overlapping, attrs, valid_from, valid_until):
                continue
            plans[name] = (overlapping, attrs)
        if not plans:
            return None
        change = Change.objects.create(
            instrument=instrument,
            valid_from=valid_from,
            valid_until=valid_until,
            is_correction=True,
            made_by=user,
            reason=reason,
            source=source,
            made_at=now,
            revision=_next_revision(instrument),
        )
        slots = {s.name: s for s in Slot.objects.filter(instrument=instrument, name__in=plans)}
        for name, (overlapping, attrs) in plans.items():
            slot = slots.get(name) or Slot.objects.create(instrument=instrument, name=name)
            ConfigEntry.objects.filter(pk__in=[e.pk for e in overlapping]).update(
                superseded_at=now, superseded_by=change
            )
            pieces = []
            for e in overlapping:
                if e.valid_from < valid_from:
                    pieces.append(
                        _stored(e, valid_until=valid_from, closed_by=change, closed_at=now)
                    )
                if valid_until is not None and (
                    e.valid_until is None or e.valid_until > valid_until
                ):
                    pieces.append(_stored(e, valid_from=valid_until, opened_by=change))
            if attrs is not None:
                pieces.append(
                    ConfigEntry(
                        slot=slot,
                        attributes=attrs,
                        valid_from=valid_from,
                        valid_until=valid_until,
                        opened_by=change,
                        closed_by=change if valid_until else None,
                        closed_at=now if valid_until else None,
                    )
                )
            for piece in pieces:
                piece.recorded_at = now
                piece.save()
        return _made(change)


def _differs(overlapping, attrs, start, end) -> bool:
    """Whether entries covering part of [start, end) say something other than ``attrs``."""
    if attrs is None:
        return bool(overlapping)
    if any(e.attributes != attrs for e in overlapping):
        return True
    reached = start  # do the entries cover the interval without a gap?
    for e in overlapping:
        if e.valid_from > reached:
            return True
        reached = e.valid_until
        if reached is None:
            return False
    return end is None or reached < end


TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def tag(
    instrument: Instrument,
    name: str,
    *,
    as_of: datetime | None = None,
    description: str = "",
    publish: bool = False,
    user=None,
) -> Tag:
    """Name the history as known at ``as_of`` (default now). An unpublished tag may be set
    again; a published one never changes."""
    if not TAG_NAME.fullmatch(name):
        raise ChangeRefused(
            f"name: {name!r} is not a tag name (letters, digits, . _ -; e.g. HDR3)", field="name"
        )
    now = timezone.now()
    if as_of is not None and as_of > now:
        raise ChangeRefused("as_of: a tag names what is known, not the future", field="as_of")
    with transaction.atomic():
        existing = Tag.objects.select_for_update().filter(instrument=instrument, name=name).first()
        if existing is not None and existing.published_at is not None:
            raise ChangeRefused(
                f"tag {name} was published on {existing.published_at:%Y-%m-%d} and cannot "
                "change; make a new tag",
                field="name",
            )
        row = existing or Tag(instrument=instrument, name=name, made_by=user)
        row.as_of = as_of or now
        row.description = description
        row.published_at = now if publish else None
        row.save()
        return row


def publish(instrument: Instrument, name: str) -> Tag:
    with transaction.atomic():
        row = Tag.objects.select_for_update().filter(instrument=instrument, name=name).first()
        if row is None:
            raise ChangeRefused(f"no tag {name!r}", field="name")
        if row.published_at is None:
            row.published_at = timezone.now()
            row.save(update_fields=["published_at"])
        return row
