"""The date strings the FPlane service accepts, as used by existing clients.

- ``YYYYMMDD``: midnight of the night starting on that date, in the site's time zone
  (the night of 2018-07-15 → 2018-07-16 00:00 local);
- ``YYYYMMDDTHH:MM:SS[.fff]``: a FITS DATE-OBS, in UTC;
- ISO 8601 (``2018-07-15T03:00:00Z``, ``…+02:00``; no zone means UTC; a date alone is a night);
- ``latest``, ``current`` or nothing: now.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# [0-9], not \d: \d takes any Unicode digit ("２０１８…"), which no client means.
NIGHT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
FITS = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?")
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
NOW_WORDS = {"", "latest", "current", "now"}


class DateError(ValueError):
    pass


def night_midnight(day: date, site_tz: str) -> datetime:
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(site_tz))
    return local.astimezone(UTC)


def parse_datestr(
    text: str, site_tz: str = "UTC", now: datetime | None = None
) -> tuple[datetime, str]:
    """Return the instant ``text`` names (aware, UTC) and the stem for file names."""
    text = text.strip()
    if len(text) > 40:
        raise DateError(f"cannot read the date {text[:20]!r}…: it is {len(text)} characters long")
    if text.lower() in NOW_WORDS:
        now = now or datetime.now(UTC)
        return now, now.astimezone(ZoneInfo(site_tz)).strftime("%Y%m%d")
    try:
        if m := NIGHT.fullmatch(text):
            day = date(*map(int, m.groups()))
            return night_midnight(day, site_tz), text
        if m := FITS.fullmatch(text):
            y, mo, d, h, mi, s = map(int, m.groups()[:6])
            micro = int((m.group(7) or ".0")[1:].ljust(6, "0"))
            return datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC), text
        if ISO_DAY.fullmatch(text):
            day = date.fromisoformat(text)
            return night_midnight(day, site_tz), day.strftime("%Y%m%d")
        if ISO_TIME.fullmatch(text):
            when = datetime.fromisoformat(text)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
            return when, when.strftime("%Y%m%dT%H:%M:%S")
    except (ValueError, OverflowError) as exc:
        raise DateError(f"cannot read the date {text!r}: {exc}") from None
    raise DateError(
        f"cannot read the date {text!r}: use YYYYMMDD, YYYYMMDDTHH:MM:SS, "
        "ISO 8601 (2018-07-15T03:00:00Z) or latest"
    )
