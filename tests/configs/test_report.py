from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.configs.report import ReportError, check_timestamp, read_report

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
        "ifuid": json_values | st.integers(0, 1000),
        "specid": st.integers(0, 1000),
        "specslot": st.integers(0, 1000),
    },
    optional={"active": json_values, "measured": json_values, "ifurot": json_values},
)
reports = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(["2026-11-21T05:00:00Z", "yesterday", 5]),
        "slots": st.dictionaries(
            st.sampled_from(["013", "014", "055", "123", "x"]), unit_like | json_values, max_size=4
        ),
    }
)


@given(reports | json_values)
def test_any_json_is_a_report_or_a_report_error_naming_a_config_field(value):
    try:
        timestamp, state = read_report(value)
    except ReportError as exc:
        assert exc.field.startswith("config")
        return
    assert timestamp.tzinfo is not None
    assert all(unit["ifuid"].isdigit() and len(unit["ifuid"]) == 3 for unit in state.values())


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
