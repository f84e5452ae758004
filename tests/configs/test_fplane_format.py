import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.configs.fplane import HEADER, FplaneError, Row, parse, render, rows_for, slot_names
from tests.factory import make_unit


def test_a_row_is_written_as_in_the_manual():
    row = Row("001", -450.0, 150.0, "037", "042", "024", 0.0, 1.0)
    assert row.line() == "001 -450.0 150.0 037 042 024 0.0 1.00"


def test_the_grid_has_99_slots_around_an_empty_centre():
    names = slot_names()
    assert len(names) == 99 and "055" not in names
    assert names[0] == "000" and names[-1] == "099"


class TestParse:
    def test_it_reads_rows_and_commented_rows(self):
        text = (
            f"{HEADER}\n001 -450.0 150.0 037 042 024 0.0 1.00\n"
            "\n#002 -350.0 150.0 000 000 000 0.0 1.00\n"
        )
        rows = parse(text)
        assert rows == [
            Row("001", -450.0, 150.0, "037", "042", "024", 0.0, 1.0),
            Row("002", -350.0, 150.0, "000", "000", "000", 0.0, 1.0, commented=True),
        ]

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("001 -450.0 150.0 037 042 024 0.0", "expected 8 columns"),
            ("001 -450.0 abc 037 042 024 0.0 1.00", "Y_FP 'abc' is not a number"),
            ("001 -450.0 150.0 37 042 024 0.0 1.00", "SPECID '37' is not a three-digit ID"),
            ("001 nan 150.0 037 042 024 0.0 1.00", "X_FP 'nan' is not a finite number"),
        ],
    )
    def test_it_names_the_line_and_the_column_of_a_bad_row(self, line, message):
        with pytest.raises(FplaneError) as raised:
            parse(f"{HEADER}\n002 0.0 0.0 001 001 001 0.0 1.00\n{line}\n")
        assert raised.value.line == 3
        assert message in str(raised.value)

    def test_a_slot_listed_twice_is_an_error(self):
        with pytest.raises(FplaneError, match="line 3: IFUSLOT 001 appears twice"):
            parse(f"{HEADER}\n001 0 0 001 001 001 0 1\n#001 0 0 001 001 001 0 1\n")


ids = st.integers(0, 999).map(lambda n: f"{n:03d}")
tenths = st.integers(-99999, 99999).map(lambda n: n / 10)
rows = st.builds(
    Row,
    slot=ids,
    x=tenths,
    y=tenths,
    specid=ids,
    specslot=ids,
    ifuid=ids,
    ifurot=tenths,
    platesc=st.integers(1, 999).map(lambda n: n / 100),
    commented=st.booleans(),
)


@given(st.lists(rows, unique_by=lambda r: r.slot))
def test_render_then_parse_gives_the_same_rows(generated):
    assert parse(render(generated)) == generated


@given(st.lists(rows, unique_by=lambda r: r.slot))
def test_parse_then_render_gives_the_same_text(generated):
    text = render(generated)
    assert render(parse(text)) == text


@given(st.text())
def test_any_text_parses_or_fails_with_a_line_number(text):
    try:
        parse(text)
    except FplaneError as exc:
        assert exc.line >= 1


class TestRowsFor:
    configuration = {
        "013": make_unit("024", "037", "001", measured={"x": -201.5, "y": -398.2}),
        "014": make_unit("025", "037", "002", active=False),
        "056": make_unit("900", "100", "001", type="LRS"),
    }

    def test_the_full_file_lists_every_slot_commenting_out_what_is_not_in_use(self):
        rows = {r.slot: r for r in rows_for(self.configuration, actual_pos=False, full=True)}
        assert len(rows) == 99
        assert not rows["013"].commented and rows["013"].ifuid == "024"
        assert rows["014"].commented and rows["014"].ifuid == "025"
        assert not rows["056"].commented  # LRS included
        assert rows["000"].commented and rows["000"].ifuid == "000"

    def test_the_short_file_has_only_active_virus_ifus(self):
        rows = rows_for(self.configuration, actual_pos=False, full=False)
        assert [r.slot for r in rows] == ["013"]

    def test_measured_positions_replace_nominal_ones_only_when_asked_and_known(self):
        nominal = {r.slot: r for r in rows_for(self.configuration, actual_pos=False, full=True)}
        actual = {r.slot: r for r in rows_for(self.configuration, actual_pos=True, full=True)}
        # slot 013 is row 1, column 3: nominally at ((3-5)*100, (1-5)*100)
        assert (nominal["013"].x, nominal["013"].y) == (-200.0, -400.0)
        assert (actual["013"].x, actual["013"].y) == (-201.5, -398.2)
        assert (actual["014"].x, actual["014"].y) == (-100.0, -400.0)
