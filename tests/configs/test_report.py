import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beamtime.configs.report import ReportError, check_timestamp, read_report
from beamtime.configs.rest import BadRequest, flag, read_body, read_start

# The machine running the suite may be busy: no timing checks on the fuzzers.
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)

NOW = datetime(2026, 11, 21, 6, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
unit_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["VIRUS", "LRS", "HRS", "HPF", "X"]),
        "ifuid": json_values | st.integers(0, 10000) | st.sampled_from(["7001", "０２４", True]),
        "specid": st.integers(0, 1000),
        "specslot": st.integers(0, 1000),
    },
    optional={"active": json_values, "measured": json_values, "ifurot": json_values},
)
reports = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(["2026-11-21T05:00:00Z", "yesterday", 5]),
        "slots": st.dictionaries(
            st.sampled_from(["013", "014", "056", "103", "010", "123", "x"]),
            unit_like | json_values,
            max_size=4,
        ),
    }
)


@FUZZ
@given(reports | json_values)
def test_any_json_is_a_report_or_a_report_error_naming_a_config_field(value):
    try:
        timestamp, state = read_report(value)
    except ReportError as exc:
        assert exc.field.startswith("config")
        return
    assert timestamp.tzinfo is not None
    assert all(
        unit["ifuid"].isascii() and unit["ifuid"].isdigit() and len(unit["ifuid"]) in (3, 4)
        for unit in state.values()
    )


def test_ids_given_as_numbers_are_zero_padded():
    _, state = read_report(
        {
            "timestamp": "2026-11-21T05:00:00",
            "slots": {"013": {"type": "VIRUS", "ifuid": 24, "specid": 7, "specslot": 42}},
        }
    )
    assert (state["013"]["ifuid"], state["013"]["specid"], state["013"]["specslot"]) == (
        "024",
        "007",
        "042",
    )


@pytest.mark.parametrize(
    ("age", "outcome"),
    [
        (timedelta(hours=5, minutes=59), None),
        (timedelta(minutes=-10), None),
        (timedelta(minutes=-11), "11 minutes in the future"),
    ],
)
def test_timestamp_rules(age, outcome):
    warning = check_timestamp(NOW - age, NOW)
    if outcome is None:
        assert warning is None
    else:
        assert outcome in warning


def test_data_older_than_6_hours_are_refused():
    with pytest.raises(ReportError, match="more than 6 hours ago"):
        check_timestamp(NOW - timedelta(hours=6, seconds=1), NOW)


class Body:
    def __init__(self, content: bytes):
        self.body = content


SITE = type("Site", (), {"timezone": "America/Chicago"})()
deep = st.integers(1, 3000).map(lambda n: ("[" * n + "]" * n).encode())


@FUZZ
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()) | deep)
def test_any_body_is_read_or_refused_with_a_reason(content):
    try:
        body = read_body(Body(content))
        read_start(body.get("start"), SITE, NOW)
        flag(body.get("commit", False), "commit")
        read_report(body.get("config"))
    except (BadRequest, ReportError) as exc:
        assert str(exc)


@FUZZ
@given(json_values | st.text(max_size=30))
def test_any_start_is_an_instant_or_a_reason_naming_start(value):
    try:
        when = read_start(value, SITE, NOW)
    except BadRequest as exc:
        assert str(exc).startswith("start: ")
        return
    assert when.tzinfo is not None
