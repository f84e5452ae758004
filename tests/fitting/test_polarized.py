"""Polarized data sets: up to four cross-sections uploaded as column files or as one ORSO file,
made from real PBR data reduced by reductus' stock polarized template (its four cross-sections
corrected for the polarizer and flipper efficiencies)."""

import io
import json
import zipfile
from urllib.parse import quote

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from orsopy import fileio

from beamtime.fitting.models import Dataset
from beamtime.reduction import sources
from beamtime.reduction.instruments.templates import predefined
from tests.conftest import SHARED
from tests.fitting.test_api import auth
from tests.reduction.conftest import data_sources, fresh_cache  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

SPECULAR = "reductus-pbr/mli0170.nxs.pbr"  # specular, all four cross-sections
BEAM = "ncnr-pbr/mli0159.nxs.pbr"  # the direct beam in all four
ORSO_STATES = {"++": "pp", "+-": "pm", "-+": "mp", "--": "mm"}


@pytest.fixture
def pbr_data():
    """Both folders of real PBR files as the server's local data (named "local")."""
    with data_sources(sources.LocalSource("local", SHARED / "data"), sources.DaqSource()):
        yield


def stock_polarized() -> tuple[dict, int]:
    """reductus' stock polarized template, its specular and direct-beam loaders given the real
    files, and the index of its "correct polarization" node."""
    (template,) = [t for t in predefined("refl") if t["name"] == "Polarized (reductus)"]
    files = {"specular": [SPECULAR], "direct beam": [BEAM]}
    template = json.loads(json.dumps(template))
    for node in template["nodes"]:
        if node["module"] == "refl.load":
            names = files.get(node["title"], [])
            node["config"]["filelist"] = [{"source": "local", "path": f, "mtime": 0} for f in names]
    titles = [n["title"] for n in template["nodes"]]
    # The scan runs through the direct beam (Q from −0.17 to 0.2 1/Å): the points at Q ≤ 0
    # (the first 11 of each cross-section) are masked on the specular branch, as a user would.
    after = {w["source"][0]: w["target"][0] for w in template["wires"]}
    mask = after[after[titles.index("specular")]]
    assert template["nodes"][mask]["module"] == "refl.mask_points"
    template["nodes"][mask]["config"]["mask_indices"] = [list(range(11))] * 4
    return template, titles.index("correct polarization")


def reduce(client, **body):
    template, node = stock_polarized()
    answer = client.post(
        "/api/reduction/calculate",
        json.dumps({"template": template, "node": node, **body}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    return answer


@pytest.fixture
def reduced(client, alice, pbr_data, fresh_cache):  # noqa: F811 (fixture)
    """The corrected cross-sections as the reduction exports them: {name: text} of the
    column files (dQ FWHM) and the ORSO file (dQ 1-σ, each data set's polarization)."""
    client.force_login(alice)
    texts = zipfile.ZipFile(io.BytesIO(reduce(client, export="text").content))
    columns = {name: texts.read(name) for name in texts.namelist()}
    return columns, reduce(client, export="orso").content


def expected(columns: dict) -> dict:
    """{cross-section: the file's columns}, read here with numpy, the cross-section from the
    metadata line the reduction wrote."""
    found = {}
    for text in columns.values():
        meta = [line for line in text.decode().split("\n") if line.startswith("# polarization:")]
        found[json.loads(meta[0].split(":", 1)[1])] = np.loadtxt(io.BytesIO(text), ndmin=2)
    return found


def test_four_reduced_column_files_named_by_cross_section_upload_as_one_data_set(
    client, alice, reduced
):
    columns, _ = reduced
    assert len(columns) == 4  # the four corrected cross-sections
    files = [SimpleUploadedFile(name, text) for name, text in columns.items()]
    page = client.post("/fitting/upload-polarized", {"files": files, "name": "mli0170"})
    dataset = Dataset.objects.get()
    assert page.url == f"/fitting/data/{dataset.pk}/"
    assert dataset.is_polarized and dataset.name == "mli0170"
    sections = dataset.cross_sections()
    assert list(sections) == ["++", "+-", "-+", "--"]
    for xs, table in expected(columns).items():
        np.testing.assert_array_equal(sections[xs].q, table[:, 0])
        np.testing.assert_array_equal(sections[xs].r, table[:, 1])
        np.testing.assert_array_equal(sections[xs].dr, table[:, 2])
        np.testing.assert_array_equal(sections[xs].dq, table[:, 3])  # FWHM, as exported
    assert dataset.points == sum(len(t) for t in expected(columns).values())
    assert dataset.cross_sections() is sections  # parsed once, kept
    with pytest.raises(ValueError):
        sections["++"].r[0] = 1.0  # shared between requests: read-only
    with pytest.raises(TypeError):
        sections["++"] = None

    shown = client.get(page.url).content.decode()
    assert "4 cross-sections" in shown and 'data-cross-sections="cross-section-data"' in shown
    listed = client.get("/fitting/").content.decode()
    assert "++ +- -+ --" in listed


def test_each_file_given_its_cross_section_by_the_uploader(client, alice, reduced):
    """The inputs say ++ and --; the files' names say nothing."""
    columns, _ = reduced
    table = expected(columns)
    by_xs = {}
    for text in columns.values():
        meta = [ln for ln in text.decode().split("\n") if ln.startswith("# polarization:")]
        by_xs[json.loads(meta[0].split(":", 1)[1])] = text
    client.post(
        "/fitting/upload-polarized",
        {
            "file_pp": SimpleUploadedFile("a.txt", by_xs["++"]),
            "file_mm": SimpleUploadedFile("b.txt", by_xs["--"]),
        },
    )
    sections = Dataset.objects.get().cross_sections()
    assert list(sections) == ["++", "--"]
    np.testing.assert_array_equal(sections["--"].r, table["--"][:, 1])


def test_the_api_takes_cross_sections_in_the_files_order(client, alice, reduced):
    columns, _ = reduced
    texts = list(columns.values())[:2]
    first, second = (expected({i: t}) for i, t in enumerate(texts))
    created = client.post(
        "/api/fitting/datasets/polarized?cross_sections=" + quote(",".join([*first, *second])),
        {"files": [SimpleUploadedFile("x.txt", t) for t in texts]},
        headers=auth(alice),
    )
    assert created.status_code == 201, created.content
    assert created.json()["cross_sections"] == sorted(
        [*first, *second], key=["++", "+-", "-+", "--"].index
    )
    plain = client.get("/api/fitting/datasets", headers=auth(alice)).json()
    assert plain[0]["points"] == sum(len(t) for t in [*first.values(), *second.values()])


def test_an_orso_file_of_four_cross_sections_is_one_polarized_data_set(client, alice, reduced):
    """The reduction's ORSO export: each data set's polarization (pp, pm, mp, mm) in its
    header, dQ 1-σ; read back here with orsopy."""
    columns, orso = reduced
    client.force_login(alice)
    client.post("/fitting/upload", {"file": SimpleUploadedFile("reduced.ort", orso)})
    dataset = Dataset.objects.get()
    sections = dataset.cross_sections()
    assert list(sections) == ["++", "+-", "-+", "--"]
    for data_set in fileio.load_orso(io.StringIO(orso.decode())):
        state = data_set.info.data_source.measurement.instrument_settings.polarization.value
        xs = {v: k for k, v in ORSO_STATES.items()}[state]
        np.testing.assert_allclose(sections[xs].q, data_set.data[:, 0], rtol=1e-12)
        np.testing.assert_allclose(sections[xs].r, data_set.data[:, 1], rtol=1e-12)
        sigma_to_fwhm = 2 * np.sqrt(2 * np.log(2))
        np.testing.assert_allclose(sections[xs].dq, data_set.data[:, 3] * sigma_to_fwhm, rtol=1e-12)
    assert dataset.provenance["template"]["name"] == "Polarized (reductus)"
    assert dataset.metadata["format"] == "ORSO" and len(dataset.metadata["cross_sections"]) == 4
    page = client.get(f"/fitting/data/{dataset.pk}/").content.decode()
    assert "++: data set <strong>mli0170.nxs.pbr:UP_UP ++</strong> · +-: data set" in page
    # Asked for one data set by its number, it is an ordinary data set, as before.
    client.post("/fitting/upload", {"file": SimpleUploadedFile("r.ort", orso), "data_set": "2"})
    one = Dataset.objects.exclude(pk=dataset.pk).get()
    assert not one.is_polarized and one.cross_sections() == {}
    np.testing.assert_array_equal(one.data().q, list(sections.values())[1].q)


def orso_file(*states, q_ranges=None) -> bytes:
    """An ORSO file written here with orsopy: one data set per polarization state given."""
    datasets = []
    for number, state in enumerate(states):
        info = fileio.Orso.empty()
        info.data_set = f"set {number + 1}"
        info.columns = [
            fileio.Column("Qz", "1/angstrom"),
            fileio.Column("R"),
            fileio.ErrorColumn("R", "uncertainty", "sigma"),
            fileio.ErrorColumn("Qz", "resolution", "sigma"),
        ]
        info.data_source.measurement.instrument_settings.polarization = state
        low, high = (q_ranges or {}).get(number, (0.01, 0.1))
        q = np.linspace(low, high, 10 + number)
        datasets.append(fileio.OrsoDataset(info, np.column_stack([q, 1 / q, 0.1 / q, q * 0.01])))
    buffer = io.StringIO()
    fileio.save_orso(datasets, buffer)
    return buffer.getvalue().encode()


def test_cross_sections_keep_their_own_q_points(client, alice):
    client.force_login(alice)
    content = orso_file("pp", "mm", q_ranges={1: (0.02, 0.3)})
    client.post("/fitting/upload", {"file": SimpleUploadedFile("two.ort", content)})
    sections = Dataset.objects.get().cross_sections()
    np.testing.assert_allclose(sections["++"].q, np.linspace(0.01, 0.1, 10))
    np.testing.assert_allclose(sections["--"].q, np.linspace(0.02, 0.3, 11))


def test_unpolarized_orso_files_stay_as_they_were(client, alice):
    client.force_login(alice)
    client.post("/fitting/upload", {"file": SimpleUploadedFile("u.ort", orso_file("pp"))})
    client.post("/fitting/upload", {"file": SimpleUploadedFile("u.ort", orso_file("pp", "po"))})
    assert [d.is_polarized for d in Dataset.objects.all()] == [False, False]


GOOD = b"0.01 1.0 0.1 0.001\n0.02 0.5 0.05 0.001\n"


@pytest.mark.parametrize(
    "files, message",
    [
        ({"files": [("a_pp.txt", GOOD), ("b_pp.refl", GOOD)]}, "b_pp.refl: a_pp.txt is ++ already"),
        ({"files": [("sample.txt", GOOD)]}, "sample.txt: the name does not say its cross-section"),
        ({"files": [("a_mm.txt", b"")]}, "a_mm.txt (--): no data"),
        ({"files": [("a_mm.txt", b"# only a comment\n")]}, "a_mm.txt (--): no data"),
        (
            {"files": [("a_mm.txt", GOOD + b"0.03 x 0.1 0.001\n")]},
            "a_mm.txt (--): line 3: column 2 (R) &#x27;x&#x27; is not a number",
        ),
        (
            {
                "files": [
                    (f"{i}_{xs}.txt", GOOD) for i, xs in enumerate(["pp", "pm", "mp", "mm", "pp"])
                ]
            },
            "files: 5 given; a polarized data set holds at most four cross-sections",
        ),
        ({}, "files: choose one data file per cross-section"),
        (
            {"files": [("a_pp.txt", GOOD), ("two.ort", orso_file("pp", "mm"))]},
            "two.ort: an ORSO file holds its cross-sections itself",
        ),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_nothing_is_stored(client, alice, files, message):
    client.force_login(alice)
    body = {k: [SimpleUploadedFile(n, c) for n, c in v] for k, v in files.items()}
    page = client.post("/fitting/upload-polarized", body, follow=True).content.decode()
    assert message in page
    assert not Dataset.objects.exists()


def test_bad_cross_sections_through_the_api(client, alice):
    files = [SimpleUploadedFile("a.txt", GOOD), SimpleUploadedFile("b.txt", GOOD)]
    for names, message in [
        ("++,up", "b.txt: cross-section: 'up' is not one of ++, +-, -+, --"),
        ("++", "cross_sections: 1 given for 2 files"),
    ]:
        answer = client.post(
            "/api/fitting/datasets/polarized?cross_sections=" + quote(names),
            {"files": files},
            headers=auth(alice),
        )
        assert answer.status_code == 422 and answer.json()["error"] == message
        for f in files:
            f.seek(0)
    assert not Dataset.objects.exists()


def test_a_bad_point_in_one_orso_cross_section_is_refused_naming_it(client, alice):
    client.force_login(alice)
    text = orso_file("pp", "mm").decode().split("\n")
    # the second data set's third row: its dR (column 3) made 0
    starts = [i for i, line in enumerate(text) if line.startswith("# data_set: set 2")]
    rows = [i for i, line in enumerate(text) if i > starts[0] and line and line[0] != "#"]
    fields = text[rows[2]].split()
    text[rows[2]] = " ".join([fields[0], fields[1], "0", fields[3]])
    page = client.post(
        "/fitting/upload",
        {"file": SimpleUploadedFile("bad.ort", "\n".join(text).encode())},
        follow=True,
    ).content.decode()
    assert (
        "bad.ort: ORSO data set &#x27;set 2&#x27;: data row 3: dR 0.0 is not greater than 0" in page
    )
    assert not Dataset.objects.exists()


def test_an_orso_file_with_a_cross_section_twice_is_refused(client, alice):
    client.force_login(alice)
    content = orso_file("pp", "mm", "pp")
    page = client.post(
        "/fitting/upload", {"file": SimpleUploadedFile("t.ort", content)}, follow=True
    ).content.decode()
    assert "t.ort: ORSO: data sets 1 and 3 are both polarization pp (++)" in page
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    "name, xs",
    [
        ("film_pp.refl", "++"),
        ("film_MM.txt", "--"),
        ("film-pm.dat", "+-"),
        ("film_mp.refl.txt", "-+"),
        ("film++.txt", "++"),
        ("film+-", "+-"),
        ("00_mli0170.nxs.pbr_DOWN_UP.txt", "-+"),
        ("film_uu.txt", "++"),
        ("film.txt", None),
        ("lamp.txt", None),  # "mp" inside a word is no cross-section
    ],
)
def test_the_cross_section_a_file_name_says(name, xs):
    from beamtime.fitting.polarized import from_file_name

    assert from_file_name(name) == xs


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_data_sets_unpolarized():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.migrate([("fitting", target)])
        return executor.loader.project_state([("fitting", target)]).apps

    old = migrate("0004_orso_metadata")
    try:
        user = old.get_model("auth", "User").objects.create(username="ada")
        old.get_model("fitting", "Dataset").objects.create(
            owner=user, name="d", content=GOOD.decode(), points=2
        )
    finally:
        migrate("0005_polarized_cross_sections")
    dataset = Dataset.objects.get()
    assert not dataset.is_polarized and dataset.cross_sections() == {}
    np.testing.assert_array_equal(dataset.data().q, [0.01, 0.02])


def test_changed_cross_sections_are_parsed_again(alice):
    from beamtime.fitting.data import parse_data

    dataset = Dataset.polarized(alice, "d", {"++": parse_data(GOOD), "--": parse_data(GOOD)})
    first = dataset.cross_sections()
    assert Dataset.objects.get(pk=dataset.pk).cross_sections() is first  # kept per process
    dataset.cross_section_texts["--"] = GOOD.decode().replace("0.5 0.05", "0.25 0.05")
    dataset.save()
    again = Dataset.objects.get(pk=dataset.pk).cross_sections()
    assert again is not first and list(again["--"].r) == [1.0, 0.25]
    assert list(again["++"].r) == [1.0, 0.5]
