import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beamtime.configs.fplane import (
    HEADER,
    FplaneError,
    Row,
    nominal_position,
    parse,
    render,
    rows_for,
    slot_names,
    slot_problem,
)
from tests.factory import make_unit

# The machine running the suite may be busy: no timing checks on the fuzzers.
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)

# Rows of the fplane file in pyhetdex's own test data (tests/data/fplane.txt), written by
# HETDEX: IFUSLOT, X_FP, Y_FP. They fix where each seat is.
PYHETDEX_ROWS = [
    ("013", -450.0, 150.0),
    ("016", -450.0, -150.0),
    ("021", -350.0, 350.0),
    ("028", -350.0, -350.0),
    ("030", -250.0, 450.0),
    ("039", -250.0, -450.0),
    ("073", 150.0, 150.0),
    ("091", 350.0, 350.0),
    ("098", 350.0, -350.0),
    ("103", 450.0, 150.0),
    ("106", 450.0, -150.0),
]


def test_a_row_is_written_as_in_the_manual():
    row = Row("013", -450.0, 150.0, "037", "042", "024", 0.0, 1.0)
    assert row.line() == "013 -450.0 150.0 037 042 024 0.0 1.00"


def test_measured_positions_keep_their_decimals():
    row = Row("073", 149.123, -150.5, "037", "042", "024", 0.0, 1.0)
    assert row.line() == "073 149.123 -150.5 037 042 024 0.0 1.00"


@pytest.mark.parametrize(("slot", "x", "y"), PYHETDEX_ROWS)
def test_seats_are_where_hetdex_files_put_them(slot, x, y):
    assert nominal_position(slot) == (x, y)


def test_the_plate_has_84_seats_from_column_1_to_10():
    names = slot_names()
    assert len(names) == 84
    assert {"013", "030", "039", "056", "066", "103", "106"} <= set(names)
    assert names[0] == "013" and names[-1] == "106"
    # pyhetdex: column int(s[:2]), row int(s[2])
    assert {int(s[:2]) for s in names} == set(range(1, 11))
    assert {int(s[2]) for s in names} == set(range(10))


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("001", "not a two-digit column 01–10"),
        ("113", "not a two-digit column 01–10"),
        ("0733", "not a two-digit column 01–10"),
        ("０７３", "not a two-digit column 01–10"),
        ("010", "IFUSLOT 010 (column 1, row 0) is not a seat"),
        ("100", "IFUSLOT 100 (column 10, row 0) is not a seat"),
    ],
)
def test_a_slot_that_is_not_a_seat_is_named(slot, message):
    assert message in slot_problem(slot)


class TestParse:
    def test_it_reads_rows_and_commented_rows(self):
        text = (
            f"{HEADER}\n013 -450.0 150.0 037 042 024 0.0 1.00\n"
            "\n#014 -450.0 50.0 000 000 000 0.0 1.00\n"
        )
        rows = parse(text)
        assert rows == [
            Row("013", -450.0, 150.0, "037", "042", "024", 0.0, 1.0),
            Row("014", -450.0, 50.0, "000", "000", "000", 0.0, 1.0, commented=True),
        ]

    def test_it_reads_a_file_as_hetdex_writes_it(self):
        # The layout of HETDEX's files: remarks, tabs, two-digit SPECIDs, LRS2's 4-digit IFUIDs.
        text = (
            "# $Id$\n# IFUSLOT X_FP   Y_FP   SPECID SPECSLOT IFUID IFUROT  PLATESC\n"
            "#013\t-450.000\t 150.000\t000\t241\t043\t0.000\t1.000\n"
            "103\t450.0\t150.0\t20\t158\t004\t0.0\t1.0\n"
            "056\t -50.000\t-150.000\t503\t000\t7001\t0.000\t1.000\n"
        )
        assert parse(text) == [
            Row("013", -450.0, 150.0, "000", "241", "043", 0.0, 1.0, commented=True),
            Row("103", 450.0, 150.0, "20", "158", "004", 0.0, 1.0),
            Row("056", -50.0, -150.0, "503", "000", "7001", 0.0, 1.0),
        ]

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("013 -450.0 150.0 037 042 024 0.0", "expected 8 columns"),
            ("013 -450.0 abc 037 042 024 0.0 1.00", "Y_FP 'abc' is not a number"),
            ("013 -450.0 150.0 7 042 024 0.0 1.00", "SPECID '7' is not an ID of 2 to 4 digits"),
            ("013 -450.0 150.0 037 042 ０２４ 0.0 1.00", "IFUID '０２４' is not an ID"),
            ("013 nan 150.0 037 042 024 0.0 1.00", "X_FP 'nan' is not a finite number"),
            ("013 １.0 150.0 037 042 024 0.0 1.00", "X_FP '１.0' is not a number"),
            ("001 -450.0 150.0 037 042 024 0.0 1.00", "IFUSLOT '001' is not a two-digit column"),
        ],
    )
    def test_it_names_the_line_and_the_column_of_a_bad_row(self, line, message):
        with pytest.raises(FplaneError) as raised:
            parse(f"{HEADER}\n014 0.0 0.0 001 001 001 0.0 1.00\n{line}\n")
        assert raised.value.line == 3
        assert message in str(raised.value)

    def test_a_slot_listed_twice_is_an_error(self):
        with pytest.raises(FplaneError, match="line 3: IFUSLOT 013 appears twice"):
            parse(f"{HEADER}\n013 0 0 001 001 001 0 1\n#013 0 0 001 001 001 0 1\n")


ids = st.integers(0, 999).map(lambda n: f"{n:03d}")
slots = st.builds(lambda c, r: f"{c:02d}{r}", st.integers(1, 10), st.integers(0, 9))
thousandths = st.integers(-9999999, 9999999).map(lambda n: n / 1000)
tenths = st.integers(-3600, 3600).map(lambda n: n / 10)
rows = st.builds(
    Row,
    slot=slots,
    x=thousandths,
    y=thousandths,
    specid=ids,
    specslot=ids,
    ifuid=ids,
    ifurot=tenths,
    platesc=st.integers(1, 999).map(lambda n: n / 100),
    commented=st.booleans(),
)


@FUZZ
@given(st.lists(rows, unique_by=lambda r: r.slot))
def test_render_then_parse_gives_the_same_rows(generated):
    assert parse(render(generated)) == generated


@FUZZ
@given(st.lists(rows, unique_by=lambda r: r.slot))
def test_parse_then_render_gives_the_same_text(generated):
    text = render(generated)
    assert render(parse(text)) == text


@FUZZ
@given(st.text())
def test_any_text_parses_or_fails_with_a_line_number(text):
    try:
        parse(text)
    except FplaneError as exc:
        assert exc.line >= 1


class TestRowsFor:
    configuration = {
        "013": make_unit("024", "037", "001", measured={"x": -451.5, "y": 148.2}),
        "014": make_unit("025", "037", "002", active=False),
        "056": make_unit("7001", "503", "000", type="LRS"),
    }

    def test_the_full_file_lists_every_seat_commenting_out_what_is_not_in_use(self):
        rows = {r.slot: r for r in rows_for(self.configuration, actual_pos=False, full=True)}
        assert len(rows) == 84
        assert not rows["013"].commented and rows["013"].ifuid == "024"
        assert rows["014"].commented and rows["014"].ifuid == "025"
        assert not rows["056"].commented and rows["056"].ifuid == "7001"  # LRS2-B included
        assert rows["103"].commented and rows["103"].ifuid == "000"

    def test_the_short_file_has_only_active_virus_ifus(self):
        rows = rows_for(self.configuration, actual_pos=False, full=False)
        assert [r.slot for r in rows] == ["013"]

    def test_measured_positions_replace_nominal_ones_only_when_asked_and_known(self):
        nominal = {r.slot: r for r in rows_for(self.configuration, actual_pos=False, full=True)}
        actual = {r.slot: r for r in rows_for(self.configuration, actual_pos=True, full=True)}
        # slot 013 is column 1, row 3
        assert (nominal["013"].x, nominal["013"].y) == (-450.0, 150.0)
        assert (actual["013"].x, actual["013"].y) == (-451.5, 148.2)
        assert (actual["014"].x, actual["014"].y) == (-450.0, 50.0)
