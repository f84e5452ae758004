"""Instrument configuration history with intervals of validity, and revisions.

A configuration is a set of entries, one per component slot of an instrument, each valid
over a half-open interval [valid_from, valid_until). Nothing is overwritten: a change
closes the intervals of the entries it replaces (sets their valid_until) and opens new
ones, in one transaction, and records who made it, when and why.

Like a conditions database (Belle II's immutable payloads and global tags), what is known
changes too: each change is a revision, recorded at ``made_at``. A correction of a past
interval supersedes the entries it replaces (``superseded_at``) and records new ones; the
old ones stay. Reading "as known at" an instant sees the entries recorded by then and not
yet superseded, each closed only if its closing was recorded by then (``closed_at``). A tag
names such an instant, e.g. the data release HDR3, and is immutable once published.
"""

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone


class Instrument(models.Model):
    FPLANE = "fplane"
    GENERIC = "generic"
    KINDS = [(FPLANE, "HETDEX focal plane"), (GENERIC, "configuration sets")]

    name = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=KINDS, default=GENERIC)
    # The site's time zone: a night (YYYYMMDD) is counted in local time.
    timezone = models.CharField(max_length=64, default="UTC")
    description = models.TextField(blank=True)
    # An experiment's archive of ECC configurations (daq.runs.ecc_instrument): private to the
    # experiment's people, and to staff only once the experiment is deleted.
    is_archive = models.BooleanField(default=False)
    # Kept by the store with each change, so that a read knows from the instrument row
    # whether what it cached is still the latest: the last revision and when it was made.
    revision = models.PositiveIntegerField(default=0)
    revised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.title


class Slot(models.Model):
    """A place in the instrument that holds one component (an IFU slot, an ECC server)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="slots")
    name = models.CharField(max_length=100)
    # Fixed properties of the place itself, e.g. the nominal focal-plane position.
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["instrument", "name"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "name"], name="unique_slot_name")
        ]

    def __str__(self):
        return f"{self.instrument.name}/{self.name}"


class Change(models.Model):
    """One atomic change of an instrument's configuration: the audit trail."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="changes")
    valid_from = models.DateTimeField(db_index=True)
    # A correction replaces what was valid over [valid_from, valid_until) (open: from on).
    valid_until = models.DateTimeField(null=True, blank=True)
    is_correction = models.BooleanField(default=False)
    revision = models.PositiveIntegerField(default=0)  # 1, 2, … per instrument, in order made
    made_at = models.DateTimeField(default=timezone.now, db_index=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=50, default="web")  # web, api, daq, demo, import

    class Meta:
        ordering = ["-valid_from", "-pk"]
        # The configuration changes only where a change starts or ends: the fplane service
        # finds the boundary at or before an instant with one seek in each.
        indexes = [
            models.Index(fields=["instrument", "valid_from"], name="change_instrument_from"),
            models.Index(fields=["instrument", "valid_until"], name="change_instrument_until"),
        ]

    def __str__(self):
        return f"{self.instrument.name} change at {self.valid_from:%Y-%m-%d %H:%M}"

    def to_dict(self) -> dict:
        return {
            "id": self.pk,
            "revision": self.revision,
            "correction": self.is_correction,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "made_at": self.made_at,
            "made_by": self.made_by.get_username() if self.made_by else None,
            "reason": self.reason,
            "source": self.source,
        }


class Tag(models.Model):
    """A name for the history as known at an instant (e.g. HDR3); immutable once published."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(max_length=64)
    as_of = models.DateTimeField()
    description = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    made_at = models.DateTimeField(default=timezone.now)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "name"], name="unique_tag_name")
        ]

    def __str__(self):
        return self.name

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "as_of": self.as_of,
            "description": self.description,
            "published_at": self.published_at,
            "made_by": self.made_by.get_username() if self.made_by else None,
        }


def known(as_of=None) -> Q:
    """The entries known at ``as_of``: recorded by then and not superseded by then (None:
    the latest revision)."""
    if as_of is None:
        return Q(superseded_at__isnull=True)
    return Q(recorded_at__lte=as_of) & (Q(superseded_at__isnull=True) | Q(superseded_at__gt=as_of))


class EntryQuerySet(models.QuerySet):
    def valid_at(self, instrument: Instrument, when, as_of=None):
        """The entries of ``instrument`` valid at ``when`` as known at ``as_of`` (None: the
        latest revision): at most one per slot.

        For each slot, the latest known entry starting at or before ``when`` is found by an
        index seek on (slot, valid_from), so the cost grows with the number of slots and
        only logarithmically with the length of the history.
        """
        latest = (
            ConfigEntry.objects.filter(known(as_of), slot=OuterRef("pk"), valid_from__lte=when)
            .order_by("-valid_from")
            .values("pk")[:1]
        )
        ids = Slot.objects.filter(instrument=instrument).values(latest_id=Subquery(latest))
        still_valid = Q(valid_until__isnull=True) | Q(valid_until__gt=when)
        if as_of is not None:
            still_valid |= Q(closed_at__gt=as_of)  # closed only later
        return self.filter(pk__in=ids).filter(still_valid)


class ConfigEntry(models.Model):
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="entries")
    attributes = models.JSONField(default=dict)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="opened")
    closed_by = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.PROTECT, related_name="closed"
    )
    # Transaction time: when this entry became known, when its interval was closed, and
    # when a correction replaced it.
    recorded_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.PROTECT, related_name="superseded"
    )

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["slot", "valid_from"]
        indexes = [models.Index(fields=["slot", "valid_from"], name="entry_slot_from")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="entry_interval_not_empty",
            ),
            # At most one open current interval per slot, whatever the code above does.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(valid_until__isnull=True, superseded_at__isnull=True),
                name="one_open_current_entry_per_slot",
            ),
        ]

    def __str__(self):
        return f"{self.slot} from {self.valid_from:%Y-%m-%d %H:%M}"

    def to_dict(self) -> dict:
        return {
            "slot": self.slot.name,
            "attributes": self.attributes,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "change": self.opened_by_id,
            "recorded_at": self.recorded_at,
            "superseded_at": self.superseded_at,
            "superseded_by": self.superseded_by_id,
        }
