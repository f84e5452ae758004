from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beamtime.configs.dates import DateError, parse_datestr

# The machine running the suite may be busy: no timing checks on the fuzzers.
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)

TEXAS = "America/Chicago"


@pytest.mark.parametrize(
    ("text", "instant", "stem"),
    [
        # The night starting 2018-07-15 has its midnight at 2018-07-16 00:00 CDT (UTC-5).
        ("20180715", datetime(2018, 7, 16, 5, tzinfo=UTC), "20180715"),
        # In winter the site is on CST (UTC-6).
        ("20180115", datetime(2018, 1, 16, 6, tzinfo=UTC), "20180115"),
        ("2018-07-15", datetime(2018, 7, 16, 5, tzinfo=UTC), "20180715"),
        ("20180715T03:04:05", datetime(2018, 7, 15, 3, 4, 5, tzinfo=UTC), "20180715T03:04:05"),
        (
            "20180715T03:04:05.25",
            datetime(2018, 7, 15, 3, 4, 5, 250000, tzinfo=UTC),
            "20180715T03:04:05.25",
        ),
        ("2018-07-15T03:04:05Z", datetime(2018, 7, 15, 3, 4, 5, tzinfo=UTC), "20180715T03:04:05"),
        (
            "2018-07-15T05:04:05+02:00",
            datetime(2018, 7, 15, 3, 4, 5, tzinfo=UTC),
            "20180715T03:04:05",
        ),
        ("2018-07-15T03:04", datetime(2018, 7, 15, 3, 4, tzinfo=UTC), "20180715T03:04:00"),
    ],
)
def test_it_reads_the_forms_clients_send(text, instant, stem):
    assert parse_datestr(text, TEXAS) == (instant, stem)


@pytest.mark.parametrize("word", ["", "latest", "current", "LATEST"])
def test_now_words_mean_now_with_the_local_date_as_stem(word):
    now = datetime(2018, 7, 16, 3, tzinfo=UTC)  # still the 15th in Texas
    assert parse_datestr(word, TEXAS, now=now) == (now, "20180715")


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "20181315",
        "2018071",
        "20180230",
        "20180715T25:00:00",
        "2018-07-15T03:04:05Q",
        "２０１８０７１５",  # full-width digits
        "２０１８-07-15",
        "20180715T０3:04:05",
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-14:00",  # after year 9999 in UTC
        "99991231",  # its midnight is in year 10000
        "2" * 5000,
    ],
)
def test_bad_dates_are_refused_with_the_text_in_the_message(text):
    with pytest.raises(DateError, match="cannot read the date"):
        parse_datestr(text, TEXAS)


@FUZZ
@given(st.text(max_size=40) | st.from_regex(r"[0-9０-９T:. +Z-]{8,30}", fullmatch=True))
def test_any_text_is_a_date_or_a_date_error(text):
    try:
        when, stem = parse_datestr(text, TEXAS)
    except DateError as exc:
        assert "cannot read the date" in str(exc)
        return
    assert when.tzinfo is not None
    assert text.strip().isascii()
