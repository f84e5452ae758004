import functools
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone

KEY_PREFIX = "bt_"
# Characters of the key kept in clear so that a user can tell keys apart.
SHOWN_CHARS = 10
# last_used_at is written at most this often per key: a write per request would queue every
# API call behind SQLite's single write lock.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# What a key may do besides acting as its user: "read" lets it read the JSON APIs;
# "write:fplane" lets it change configuration history (POST /fplane, configs writes).
SCOPES = {"read": "read", "write:fplane": "update configurations (fplane)"}


def default_scopes() -> list[str]:
    return ["read"]


def hash_key(key: str) -> str:
    # Keys are 256 random bits, so a plain digest is enough; a slow password hash would
    # only slow every API call down.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def with_digest(self, digest: str):
        """The active key with ``digest``, its user attached (what an API request looks up)."""
        return self.active().select_related("user").filter(digest=digest)


class ApiKey(models.Model):
    """A per-user key for scripts and API clients; only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=SHOWN_CHARS)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=default_scopes)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def issue(cls, user, name: str, scopes=("read",)) -> tuple["ApiKey", str]:
        """Create a key for ``user``; return the row and the key, which is never shown again."""
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scope {sorted(unknown)[0]!r}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user,
            name=name,
            prefix=key[:SHOWN_CHARS],
            digest=hash_key(key),
            scopes=sorted(set(scopes)),
        )
        return row, key

    @classmethod
    def row_for(cls, key: str, record_use: bool = True):
        """The active key row for ``key`` (of an active user), or None; its use recorded
        (``record_use_if_due``) unless ``record_use`` is False (the caller will)."""
        row = _key_and_user(hash_key(key))
        if row is None or not row.user.is_active:
            return None
        if record_use:
            row.record_use_if_due()
        return row

    def use_is_due(self) -> bool:
        """Whether last_used_at is older than LAST_USED_RESOLUTION (or unset)."""
        return (
            self.last_used_at is None or timezone.now() - self.last_used_at >= LAST_USED_RESOLUTION
        )

    def record_use_if_due(self) -> None:
        if self.use_is_due():
            self.last_used_at = timezone.now()
            type(self).objects.filter(pk=self.pk).update(last_used_at=self.last_used_at)

    @classmethod
    def user_for(cls, key: str):
        """The active user owning ``key``, or None for an unknown, revoked or inactive one."""
        row = cls.row_for(key)
        return row.user if row else None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


def _key_and_user(digest: str) -> "ApiKey | None":
    """The active key row with ``digest``, its user attached: the ORM's statement, compiled
    once per connection (compiling it cost more than running it, on every API request), each
    value converted as the ORM converts it (dates, JSON, booleans)."""
    db = connections[DEFAULT_DB_ALIAS]  # this thread's
    statement, params, converters = _lookup(db)
    with db.cursor() as cursor:
        cursor.execute(statement, [digest if p == _DIGEST else p for p in params])
        found = cursor.fetchone()
    if found is None:
        return None
    split = len(ApiKey._meta.concrete_fields)  # the key's columns, then its user's
    row = _instance(db, ApiKey, found[:split], converters[:split])
    row.user = _instance(db, get_user_model(), found[split:], converters[split:])
    return row


_DIGEST = "\0digest"  # stands for the digest among the compiled statement's parameters


@functools.lru_cache(maxsize=64)
def _lookup(db) -> tuple[str, tuple, tuple]:
    """For one connection (each thread has its own): the statement of an active key with its
    user and its parameters, and each column's converters."""
    query = ApiKey.objects.with_digest(_DIGEST).order_by()
    compiler = query.query.get_compiler(connection=db)
    statement, params = compiler.as_sql()
    converters = tuple(
        (col, db.ops.get_db_converters(col) + col.get_db_converters(db))
        for col, _, _ in compiler.select
    )
    return statement, params, converters


def _instance(db, model, values, converters):
    """A ``model`` instance from its concrete fields' column values, as the ORM loads it."""
    converted = []
    for value, (col, functions) in zip(values, converters, strict=True):
        for convert in functions:
            value = convert(value, col, db)
        converted.append(value)
    return model.from_db(db.alias, [f.attname for f in model._meta.concrete_fields], converted)
