"""The parser for uploaded reflectivity data files (beamtime.fitting.data)."""

import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given, settings
from hypothesis import strategies as st

from beamtime.fitting.data import MAX_BYTES, MAX_POINTS, MIN_Q, DataError, ReflData, parse_data
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset
from tests.fitting.test_api import auth

REFLECTIVITY = Path(__file__).resolve().parents[3] / "shared" / "data" / "reflectivity"


def error(content: str | bytes) -> DataError:
    with pytest.raises(DataError) as caught:
        parse_data(content.encode() if isinstance(content, str) else content)
    assert "\n" not in str(caught.value)
    return caught.value


# Real files


def test_it_reads_the_simulated_double_layer_file():
    data = parse_data((REFLECTIVITY / "double_layer.txt").read_bytes())
    # README: 300 points, Q 0.008–0.2, dQ = 2.5 % of Q (FWHM).
    assert len(data) == 300
    assert data.q[0] == 0.008 and data.q[-1] == 0.2
    np.testing.assert_allclose(data.dq, 0.025 * data.q, rtol=1e-6)  # written with 7 digits
    assert data.r[0] == pytest.approx(1.0, abs=0.1)  # below the critical edge: total reflection


def test_it_reads_the_sns_ref_l_file():
    data = parse_data((REFLECTIVITY / "sns_ref_l_sample.txt").read_bytes())
    assert len(data) == 665  # README
    assert data.q[0] == 0.008172 and data.q[-1] == 0.230988
    assert data.dq is not None and data.dq[0] == 0.00108796


# Accepted variations


def test_it_reads_four_columns_with_comments():
    data = parse_data(
        b"# Q R dR dQ\n\n0.01 1.0 0.1 0.001\n  # halfway\n\n0.02 0.5 0.05 0.002  # note\n\n#end"
    )
    assert data == ReflData(
        q=np.array([0.01, 0.02]),
        r=np.array([1.0, 0.5]),
        dr=np.array([0.1, 0.05]),
        dq=np.array([0.001, 0.002]),
    )


def test_it_reads_three_columns_without_dq():
    data = parse_data(b"0.01 1.0 0.1\n0.02 0.5 0.05\n")
    assert data.dq is None
    assert data.r.tolist() == [1.0, 0.5]


def test_it_reads_comma_separated_values_with_windows_line_ends():
    data = parse_data(b"# Q,R,dR,dQ\r\n0.01, 1.0, 0.1, 0.001\r\n0.02,0.5,0.05,0.002\r\n")
    assert data.q.tolist() == [0.01, 0.02]
    assert data.dq.tolist() == [0.001, 0.002]


def test_it_accepts_tabs_exponents_and_a_utf8_bom():
    data = parse_data("\ufeff1E-2\t+1.5e0\t.1\n2.e-2\t3\t1\n".encode())
    assert data.q.tolist() == [0.01, 0.02]
    assert data.r.tolist() == [1.5, 3.0]


def test_it_accepts_zero_and_negative_r():
    # Background-subtracted data has such points.
    assert parse_data(b"0.01 0 0.1\n0.02 -1e-7 0.1\n").r.tolist() == [0.0, -1e-7]


def test_to_text_reads_back_three_columns():
    data = parse_data(b"0.01 1 0.1\n0.02 0.1 0.01\n")
    assert parse_data(data.to_text().encode()) == data


# Whole-file errors


def test_it_refuses_binary_files():
    assert str(error(b"0.01 1 0.1\n\0\n")) == "not a text file (UTF-8)"
    assert error(b"\x89PNG\r\n\x1a\n").line is None


def test_it_refuses_latin1_text():
    assert str(error("# Q in 1/Å\n0.01 1 0.1\n".encode("latin-1"))) == "not a text file (UTF-8)"


def test_it_refuses_files_over_the_size_limit():
    err = error(b"#" * (MAX_BYTES + 1))
    assert err.line is None and str(MAX_BYTES) in str(err)


def test_it_refuses_files_without_data():
    for content in (b"", b"\n\n", b"# only a comment\n  \n# another\n"):
        assert str(error(content)) == "no data"


def test_it_refuses_a_million_points_quickly():
    content = b"1 1 1\n" * 1_000_000  # 6 MB, under the byte limit
    start = time.monotonic()
    err = error(content)
    assert time.monotonic() - start < 2
    assert err.line is None and f"more than {MAX_POINTS} points" in str(err)


def test_it_accepts_exactly_the_points_limit():
    content = "".join(f"{i + 1} 1 1\n" for i in range(MAX_POINTS)).encode()
    assert len(parse_data(content)) == MAX_POINTS


# Line errors

GOOD = "# header\n0.01 1 0.1 0.001\n\n0.02 0.5 0.05 0.002\n"  # data on lines 2 and 4, next is 5


@pytest.mark.parametrize(
    "row, message",
    [
        ("abc 1 0.1 0.001", "column 1 (Q) 'abc' is not a number"),
        ("0.03 abc 0.1 0.001", "column 2 (R) 'abc' is not a number"),
        ("0.03 1 0.1x 0.001", "column 3 (dR) '0.1x' is not a number"),
        ("0.03 1 0.1 1_0", "column 4 (dQ) '1_0' is not a number"),
        ("0.03 ١ 0.1 0.001", "column 2 (R) '١' is not a number"),
        ("0.03 nan 0.1 0.001", "column 2 (R) 'nan' is not finite"),
        ("0.03 1 -inf 0.001", "column 3 (dR) '-inf' is not finite"),
        ("0.03 1 0.1 Infinity", "column 4 (dQ) 'Infinity' is not finite"),
        ("0.03 1e999 0.1 0.001", "column 2 (R) '1e999' is too large (not finite)"),
        ("0.03 1 0.1", "4 columns expected (as on line 2), found 3"),
        ("0.03 1 0.1 0.001 7", "4 columns expected (as on line 2), found 5"),
        ("0.03,1,0.1,0.001", "a comma, but line 2 is separated by spaces (one separator per file)"),
        ("0.015 1 0.1 0.001", "Q 0.015 is less than the Q before it (0.02 on line 4)"),
        ("0.03 1 0 0.001", "dR 0 is not greater than 0"),
        ("0.03 1 -0.1 0.001", "dR -0.1 is not greater than 0"),
        ("0.03 1 0.1 0", "negative or zero dQ 0"),
        ("0.03 1 0.1 -1e-3", "negative or zero dQ -1e-3"),
    ],
)
def test_it_names_the_line_and_column_of_a_bad_row(row, message):
    err = error(GOOD + row + "\n0.5 1 0.1 0.001\n")
    assert err.line == 5
    assert str(err) == f"line 5: {message}"


def test_it_refuses_too_few_or_too_many_columns_on_the_first_data_line():
    err = error("# header\n\n0.01 1\n")
    assert (err.line, str(err)) == (3, "line 3: 2 columns found, 3 or 4 expected (Q R dR [dQ])")
    assert error("0.01 1 0.1 0.001 5\n").line == 1


def test_it_refuses_zero_or_negative_q():
    assert str(error("0 1 0.1\n")) == "line 1: Q 0 is not greater than 0"
    assert str(error("\n-0.01 1 0.1\n")) == "line 2: Q -0.01 is not greater than 0"


def test_it_refuses_a_line_without_commas_in_a_comma_separated_file():
    err = error("0.01,1,0.1\n0.02 1 0.1\n")
    assert (
        str(err) == "line 2: no comma, but line 1 is separated by commas (one separator per file)"
    )


def test_it_reports_a_missing_value_in_a_comma_separated_file():
    assert str(error("0.01,1,0.1\n0.02,,0.1\n")) == "line 2: column 2 (R) '' is not a number"


def test_it_keeps_the_message_short_for_a_huge_value():
    err = error(b"0.01 1 0.1\n0.02 " + b"x" * 1_000_000 + b" 0.1\n")
    assert err.line == 2 and len(str(err)) < 100


def test_the_error_is_a_value_error_that_survives_pickling():
    err = pickle.loads(pickle.dumps(error("0.02 1 0.1\n0.01 1 0.1\n")))
    assert isinstance(err, ValueError) and err.line == 2
    assert str(err) == "line 2: Q 0.01 is less than the Q before it (0.02 on line 1)"


@pytest.mark.parametrize(
    "content, message",
    [
        ("0.01 1 0.1\n", "1 point at one Q: a curve needs at least 2 points at different Q"),
        ("0.01 1 0.1\n0.01 2 0.1\n0.01 3 0.1\n", "3 points at one Q"),
        ("0.01 1 0.1 0.001\n", "1 point at one Q"),
        ("0.01, 1, 0.1\n", "1 point at one Q"),  # read line by line
    ],
)
def test_a_curve_needs_two_points_at_different_q(content, message):
    """One Q gave refl1d's resolution convolution a division by zero (a 500 on every page)."""
    err = error(content)
    assert err.line is None and message in str(err)


def test_q_far_below_what_a_reflectometer_measures_is_refused():
    assert str(error("1e-300 1 0.1\n2e-300 1 0.1\n")) == (
        "line 1: Q 1e-300 is below 1e-06 1/Å: is Q in 1/Å?"
    )
    assert len(parse_data(f"{MIN_Q} 1 0.1\n0.01 1 0.1\n".encode())) == 2


@pytest.mark.django_db
def test_an_upload_with_one_q_is_refused_by_the_api(client, alice):
    """It was stored (201), and then every evaluate and fit page of it gave a 500."""
    headers = auth(alice)
    one = client.post(
        "/api/fitting/datasets?dq_over_q=0.02",
        {"file": SimpleUploadedFile("one.txt", b"0.01 1 0.1\n")},
        headers=headers,
    )
    assert one.status_code == 422 and "at least 2 points at different Q" in one.json()["error"]
    polarized = client.post(
        "/api/fitting/datasets/polarized?cross_sections=%2B%2B,--&dq_over_q=0.02",
        {"files": [SimpleUploadedFile(f"{xs}.txt", b"0.01 1 0.1\n") for xs in "pm"]},
        headers=headers,
    )
    assert polarized.status_code == 422
    assert "at least 2 points at different Q" in polarized.json()["error"]
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_data_stored_before_these_rules_still_open_and_say_why_they_cannot_be_drawn(client, alice):
    """A one-point data set uploaded before the rule: its pages and the API say what refl1d
    cannot compute (they gave a 500)."""
    stored = Dataset.objects.create(
        owner=alice, name="one", content="0.01 1 0.1\n", points=1, dq_over_q=0.02
    )
    response = client.post(
        f"/api/fitting/datasets/{stored.pk}/evaluate",
        {"model": LayerModel().to_dict()},
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 422
    assert response.json()["error"].startswith("refl1d cannot compute the model")
    client.force_login(alice)
    page = client.get(f"/fit/upload/{stored.pk}")
    assert page.status_code == 200 and "refl1d cannot compute the model" in page.content.decode()


def test_repeated_q_values_are_accepted():
    data = parse_data(b"0.01 1 0.1\n0.02 0.5 0.1\n0.02 0.6 0.1\n0.03 0.2 0.1\n")
    assert data.q.tolist() == [0.01, 0.02, 0.02, 0.03] and data.r.tolist()[1:3] == [0.5, 0.6]


# Properties


def parses_or_refuses(content: bytes) -> None:
    try:
        data = parse_data(content)
    except DataError as err:
        assert "\n" not in str(err)
    else:
        assert isinstance(data, ReflData) and len(data) > 0


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_data_error(content):
    parses_or_refuses(content)


@given(st.text(max_size=2000))
def test_arbitrary_text_parses_or_raises_data_error(text):
    parses_or_refuses(text.encode())


# Text close to a data file reaches the checks past decoding and splitting.
TOKENS = ["0", "1", "-1", "0.5", "1e-3", "2E5", "1e999", "nan", "-inf", "x", "", ",", "#", "\t"]
LINES = st.lists(st.sampled_from(TOKENS), max_size=6).map(" ".join)


@given(st.lists(LINES, max_size=30), st.sampled_from(["\n", "\r\n"]))
def test_nearly_valid_text_parses_or_raises_data_error(lines, newline):
    parses_or_refuses(newline.join(lines).encode())


FINITE = st.floats(allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(min_value=0, exclude_min=True, allow_infinity=False)
Q = st.floats(min_value=MIN_Q, allow_infinity=False)


@st.composite
def refl_data(draw) -> ReflData:
    q = sorted(draw(st.lists(Q, min_size=2, max_size=50, unique=True)))
    n = len(q)
    columns = [draw(st.lists(s, min_size=n, max_size=n)) for s in (FINITE, POSITIVE, POSITIVE)]
    dq = np.array(columns[2]) if draw(st.booleans()) else None
    return ReflData(np.array(q), np.array(columns[0]), np.array(columns[1]), dq)


@settings(max_examples=200)
@given(refl_data())
def test_to_text_round_trips_exactly(data):
    back = parse_data(data.to_text().encode())
    assert back == data
    assert (back.dq is None) == (data.dq is None)
    for name in ("q", "r", "dr", "dq"):
        mine, theirs = getattr(back, name), getattr(data, name)
        if theirs is not None:  # bitwise, so -0.0 must come back as -0.0
            assert mine.dtype == np.float64 and mine.tobytes() == theirs.tobytes()


# Resolution, as the uploader says it is


def test_a_one_sigma_fourth_column_is_turned_into_fwhm():
    from beamtime.fitting.data import with_resolution

    data = parse_data(b"0.01 1 0.1 0.001\n0.02 0.5 0.1 0.002\n")
    assert with_resolution(data, "fwhm").dq.tolist() == [0.001, 0.002]
    fwhm = 2 * np.sqrt(2 * np.log(2))  # a Gaussian's FWHM over its σ
    np.testing.assert_allclose(with_resolution(data, "sigma").dq, [0.001 * fwhm, 0.002 * fwhm])


def test_three_columns_need_a_chosen_resolution():
    from beamtime.fitting.data import with_resolution

    data = parse_data(b"0.01 1 0.1\n0.02 0.5 0.1\n")
    with pytest.raises(DataError, match="3 columns: there is no dQ, so say the resolution"):
        with_resolution(data)
    np.testing.assert_allclose(with_resolution(data, dq_over_q=0.025).dq, [0.00025, 0.0005])
    assert with_resolution(data, dq_over_q=0.0).dq.tolist() == [0.0, 0.0]  # chosen, not silent
    for bad in (-0.1, 0.9, float("nan")):
        with pytest.raises(DataError, match="dQ/Q"):
            with_resolution(data, dq_over_q=bad)
    with pytest.raises(DataError, match="neither 'fwhm' nor 'sigma'"):
        with_resolution(data, "hwhm", 0.02)
