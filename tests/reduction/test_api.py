"""The reduction RPC over HTTP with a signed-in user: instruments, sources, calculate, cached,
exports with provenance; errors name the node and parameter."""

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from beamtime.reduction.export import read_provenance
from tests.reduction.conftest import PBR, data_sources, fileinfo, post, refl_template


@pytest.fixture
def client(client, alice):
    client.force_login(alice)
    return client


def spec_template(file="mli0115.nxs.pbr", base="monitor"):
    return refl_template(
        ("load", {"filelist": [fileinfo(file)]}),
        ("normalize", {"base": base}),
        wires=[(0, 1, "data")],
    )


def test_instruments_list_modules_with_html_help(client):
    (refl,) = client.get("/api/reduction/instruments").json()
    modules = {m["id"]: m for m in refl["modules"]}
    assert "refl.normalize" in modules
    normalize = modules["refl.normalize"]
    assert [c["id"] for c in normalize["controls"]] == ["base"]
    assert normalize["controls"][0]["units"] == "auto|monitor|time|roi|power|none"
    # docutils rendered the docstring; the TeX is left for KaTeX
    assert "<p>" in normalize["html"] and r"\(" in normalize["html"]


def test_files_of_a_source_and_traversal_refused(client, pbr_source):
    listing = client.get("/api/reduction/sources/local/files").json()
    names = {e["name"]: e for e in listing["entries"]}
    assert names["mli0115.nxs.pbr"]["size"] == (pbr_source.root / "mli0115.nxs.pbr").stat().st_size
    for bad in ("../", "/etc", "a/../../x", "c:/x"):
        answer = client.get("/api/reduction/sources/local/files", {"path": bad})
        assert answer.status_code == 404 and "outside" in answer.json()["error"]


def test_calculate_plots_monitor_normalized_counts(client, pbr_source, fresh_cache):
    answer = post(client, "calculate", {"template": spec_template(), "node": 1})
    assert answer.status_code == 200, answer.content
    values = answer.json()["values"]
    assert [v["name"] for v in values] == [
        "mli0115.nxs.pbr:DOWN_DOWN --",
        "mli0115.nxs.pbr:UP_UP ++",
    ]
    assert values[0]["ylabel"] == "counts per monitor count"
    assert len(values[0]["x"]) == 15 and len(values[1]["x"]) == 14


def test_cached_nodes_follow_the_calculation(client, pbr_source, fresh_cache):
    body = {"template": spec_template()}
    assert post(client, "cached", body).json() == {"cached": []}
    post(client, "calculate", {**body, "node": 1})
    assert post(client, "cached", body).json() == {"cached": [0, 1]}
    changed = {**body, "config": {"1": {"base": "time"}}}
    assert post(client, "cached", changed).json() == {"cached": [0]}


def test_text_export_starts_with_provenance_and_reloads(client, pbr_source, fresh_cache):
    template = spec_template("mli0111.nxs.pbr")
    answer = post(client, "calculate", {"template": template, "node": 1, "export": "text"})
    assert answer["Content-Type"] == "text/plain"
    text = answer.content.decode()
    header = read_provenance(text)
    assert header["template"] == template and header["node"] == 1
    # the file as read: its version on the server, not the client's mtime (0)
    (read,) = header["config"]["0"]["filelist"]
    assert read["mtime"] == (PBR / "mli0111.nxs.pbr").stat().st_mtime != 0
    table = np.loadtxt(text.splitlines())
    assert table.shape == (101, 4)
    again = post(client, "calculate", {"template": header["template"], "node": header["node"]})
    assert np.allclose([y or 0 for y in again.json()["values"][0]["y"]], table[:, 1], rtol=1e-9)


@pytest.mark.parametrize(
    "change, node, field, message",
    [
        ({"1": {"base": "weekly"}}, 1, "base", "'weekly' is not one of auto, monitor"),
        ({"0": {"filelist": [fileinfo("../secret")]}}, 0, "filelist", "outside"),
        ({"0": {"filelist": [fileinfo("README.md")]}}, 0, "filelist", "not a readable HDF5 file"),
        (
            {"0": {"filelist": [{**fileinfo("mli0115.nxs.pbr"), "entries": ["UP_DOWN"]}]}},
            0,
            "filelist",
            "mli0115.nxs.pbr: has no entry UP_DOWN (it has DOWN_DOWN, UP_UP)",
        ),
        (
            {"0": {"filelist": [{**fileinfo("mli0115.nxs.pbr"), "entries": "UP"}]}},
            0,
            "filelist",
            "entries",
        ),
    ],
)
def test_errors_name_the_node_and_parameter(
    client, pbr_source, fresh_cache, change, node, field, message
):
    answer = post(client, "calculate", {"template": spec_template(), "config": change, "node": 1})
    assert answer.status_code == 422
    error = answer.json()
    assert error["node"] == node and error.get("field") == field
    assert message in error["error"]


def test_the_editor_gets_designed_refusals_in_the_body(client, pbr_source, fresh_cache):
    """The same refusal, answered 200 with its status in X-Problem: a browser would log a 422
    as a console error although the page shows it as a message."""
    body = {"template": spec_template(), "config": {"1": {"base": "weekly"}}, "node": 1}
    plain = post(client, "calculate", body)
    inline = client.post(
        "/api/reduction/calculate",
        json.dumps(body),
        content_type="application/json",
        headers={"X-Problems": "in-body"},
    )
    assert plain.status_code == 422 and "X-Problem" not in plain
    assert inline.status_code == 200 and inline["X-Problem"] == "422"
    assert inline.json() == plain.json() and inline.json()["field"] == "base"
    missing = client.get(
        "/api/reduction/sources/local/files", {"path": "nowhere"}, headers={"X-Problems": "in-body"}
    )
    assert missing.status_code == 200 and missing["X-Problem"] == "404"
    assert missing.json()["field"] == "path"


def test_an_empty_loader_passes_nothing_on(client, pbr_source, fresh_cache):
    config = {"0": {"filelist": []}}
    answer = post(client, "calculate", {"template": spec_template(), "config": config, "node": 1})
    assert answer.status_code == 200 and answer.json()["values"] == []


def test_a_cycle_and_an_unknown_module_are_refused(client, pbr_source):
    cycle = spec_template()
    cycle["nodes"] += [{"module": "refl.rescale"}, {"module": "refl.mask_points"}]
    cycle["wires"] = [  # 2 → 3 → 2, and 1 hangs from it
        {"source": [0, "output"], "target": [3, "data"]},
        {"source": [2, "output"], "target": [3, "data"]},
        {"source": [3, "output"], "target": [2, "data"]},
        {"source": [2, "output"], "target": [1, "data"]},
    ]
    answer = post(client, "calculate", {"template": cycle, "node": 1})
    assert answer.status_code == 422 and "cycle: 2 → 3 → 2" in answer.json()["error"]
    unknown = spec_template()
    unknown["nodes"][1]["module"] = "refl.os_system"
    answer = post(client, "calculate", {"template": unknown, "node": 1})
    assert answer.json()["node"] == 1 and "unknown module" in answer.json()["error"]


def test_only_signed_in_users_reach_the_engine(db, pbr_source):
    from django.test import Client

    answer = post(Client(), "calculate", {"template": spec_template(), "node": 1})
    assert answer.status_code == 401


def test_predefined_templates_reduce_the_pbr_files_to_reflectivity(client, pbr_source, fresh_cache):
    (refl,) = client.get("/api/reduction/instruments").json()
    templates = {t["name"]: t for t in refl["templates"]}
    full = templates["Specular with backgrounds and direct beam"]
    files = {
        "specular": [fileinfo("mli0115.nxs.pbr")],
        "background+": [],  # one sign only: that branch stays empty
        "background−": [fileinfo("mli01120.nxs.pbr")],
        "direct beam": [fileinfo("mli0159.nxs.pbr")],
    }
    config = {}
    for index, node in enumerate(full["nodes"]):
        if node["module"] == "refl.load":
            config[str(index)] = {"filelist": files[node["title"]]}
    last = len(full["nodes"]) - 1
    answer = post(client, "calculate", {"template": full, "config": config, "node": last})
    assert answer.status_code == 200, answer.content
    values = answer.json()["values"]
    assert [v["ylabel"] for v in values] == ["reflectivity", "reflectivity"]
    assert all(len(v["x"]) >= 14 for v in values)
    for template in templates.values():  # every predefined template is a valid diagram
        assert post(client, "cached", {"template": template}).status_code == 200


@pytest.fixture
def broken_files(tmp_path):
    """A truncated copy of a PBR file and a NeXus file whose entry lacks the counts."""
    import h5py

    from beamtime.reduction import sources

    whole = (PBR / "mli0115.nxs.pbr").read_bytes()
    (tmp_path / "truncated.nxs.pbr").write_bytes(whole[: len(whole) // 3])
    with h5py.File(tmp_path / "nocounts.nxs.pbr", "w") as f:
        f.create_group("entry").create_dataset("DAS_logs/counter/liveMonitor", data=[1.0])
    (tmp_path / "good.nxs.pbr").write_bytes(whole)
    with data_sources(sources.LocalSource("local", tmp_path)):
        yield


def test_broken_files_fail_on_their_node_and_the_rest_keeps_working(
    client, broken_files, fresh_cache
):
    template = refl_template(
        ("load", {"filelist": [fileinfo("truncated.nxs.pbr")]}),
        ("normalize", {}),
        ("load", {"filelist": [fileinfo("good.nxs.pbr")]}),
        ("normalize", {}),
        wires=[(0, 1, "data"), (2, 3, "data")],
    )
    answer = post(client, "calculate", {"template": template, "node": 1})
    assert answer.status_code == 422 and answer.json()["node"] == 0
    assert "truncated.nxs.pbr: not a readable HDF5 file" in answer.json()["error"]
    config = {"0": {"filelist": [fileinfo("nocounts.nxs.pbr")]}}
    answer = post(client, "calculate", {"template": template, "config": config, "node": 1})
    assert answer.json()["node"] == 0
    assert "field DAS_logs/counter/liveROI: missing" in answer.json()["error"]
    # the other branch of the same diagram still calculates
    answer = post(client, "calculate", {"template": template, "config": config, "node": 3})
    assert answer.status_code == 200 and len(answer.json()["values"]) == 2


def test_the_redis_cache_serves_every_process(client, pbr_source, settings, redis_server):
    from beamtime.reduction import service

    settings.REDUCTION_CACHE, settings.REDIS_URL = "redis", redis_server
    service.step_cache.cache_clear()
    try:
        cache = service.step_cache()
        assert type(cache).__name__ == "RedisCache"
        template = spec_template(base="time")
        for key in cache.redis.scan_iter(cache.prefix + "*"):
            cache.redis.delete(key)
        assert post(client, "cached", {"template": template}).json() == {"cached": []}
        post(client, "calculate", {"template": template, "node": 1})
        assert post(client, "cached", {"template": template}).json() == {"cached": [0, 1]}
    finally:
        service.step_cache.cache_clear()


def test_the_file_browser_learns_what_each_file_holds(client, pbr_source, fresh_cache, caplog):
    def q_of(entry):
        """The Q range of a cross-section as the load step plots it."""
        file = {**fileinfo("mli0115.nxs.pbr"), "entries": [entry]}
        template = refl_template(("load", {"filelist": [file]}))
        (plotted,) = post(client, "calculate", {"template": template, "node": 0}).json()["values"]
        assert plotted["xlabel"].startswith("Qz")
        return {"qmin": min(plotted["x"]), "qmax": max(plotted["x"])}

    files = [fileinfo(f) for f in ("mli0115.nxs.pbr", "mli01120.nxs.pbr", "README.md", "../x")]
    body = {"instrument": "refl", "files": files}
    first = post(client, "files/describe", body).json()
    assert first[0] == {
        "sample": "mli01",
        "start": first[0]["start"],
        "intent": "specular",
        "entries": [
            {"entry": "DOWN_DOWN", "polarization": "--", "points": 15, **q_of("DOWN_DOWN")},
            {"entry": "UP_UP", "polarization": "++", "points": 14, **q_of("UP_UP")},
        ],
    }
    assert first[0]["start"].startswith("2014-")
    assert first[1]["intent"] == "background-"
    assert "not a readable HDF5 file" in first[2]["error"] and "outside" in first[3]["error"]
    # a file no reader understands, a refused path: said beside the name, no traceback logged
    assert not [r for r in caplog.records if r.name == "beamtime.reduction"]
    assert "Traceback" not in first[2]["error"]
    assert post(client, "files/describe", body).json() == first  # the second time from the cache
    answer = post(client, "files/describe", {"instrument": "sans", "files": files})
    assert answer.status_code == 422 and answer.json()["field"] == "instrument"


def test_the_orso_export_holds_the_reflectivity_and_its_provenance(client, pbr_source, fresh_cache):
    from orsopy import fileio

    (refl,) = client.get("/api/reduction/instruments").json()
    full = {t["name"]: t for t in refl["templates"]}["Unpolarized (reductus)"]
    files = {"specular": "mli0115.nxs.pbr", "direct beam": "mli0159.nxs.pbr"}
    config = {
        str(i): {"filelist": [fileinfo(files[n["title"]])] if n["title"] in files else []}
        for i, n in enumerate(full["nodes"])
        if n["module"] == "refl.load"
    }
    last = len(full["nodes"]) - 1
    body = {"template": full, "config": config, "node": last}
    answer = post(client, "calculate", {**body, "export": "orso"})
    assert answer.status_code == 200, answer.content
    assert 'filename="reduced.ort"' in answer["Content-Disposition"]
    path = Path(tempfile.mkdtemp()) / "reduced.ort"
    path.write_bytes(answer.content)
    datasets = fileio.load_orso(str(path))
    # in reductus' order: join's groups sorted by polarization, "++" before "--"
    assert [d.info.data_source.measurement.instrument_settings.polarization for d in datasets] == [
        "pp",
        "mm",
    ]
    text = post(client, "calculate", {**body, "export": "text"})
    with zipfile.ZipFile(io.BytesIO(text.content)) as z:
        tables = [np.loadtxt(z.read(n).decode().splitlines()) for n in sorted(z.namelist())]
    for ort, table in zip(datasets, tables, strict=True):
        np.testing.assert_allclose(ort.data[:, :3], table[:, :3], rtol=1e-9)  # Qz, R, dR
        # dQ: 1-sigma here, FWHM in the column text
        np.testing.assert_allclose(
            ort.data[:, 3] * 2 * np.sqrt(2 * np.log(2)), table[:, 3], rtol=1e-9
        )
        header = ort.info.reduction.comment.removeprefix("provenance: ")
        assert json.loads(header)["template"] == full
        names = {f.file: f.timestamp for f in ort.info.data_source.measurement.data_files}
        assert set(names) == {"local:mli0115.nxs.pbr", "local:mli0159.nxs.pbr"}
        assert all(stamp is not None for stamp in names.values())
    pol = next(i for i, n in enumerate(full["nodes"]) if n["module"] == "refl.load")
    counts = post(client, "calculate", {**body, "node": pol, "export": "orso"})
    assert counts.status_code == 200  # raw counts are refldata too: written, labelled R


def test_orso_is_refused_for_polarization_efficiencies(client, pbr_source, fresh_cache):
    template = refl_template(
        ("load", {"filelist": [fileinfo("mli0159.nxs.pbr")]}),
        ("normalize", {}),
        ("estimate_polarization", {}),
        wires=[(0, 1, "data"), (1, 2, "data")],
    )
    body = {"template": template, "node": 2, "terminal": "polarization", "export": "orso"}
    answer = post(client, "calculate", body)
    assert answer.status_code == 422 and answer.json()["field"] == "export"
    message = "polarization efficiencies are not a reflectivity: export them as text or HDF5"
    assert answer.json()["error"] == message


def test_the_column_text_gives_dq_as_fwhm_or_sigma_and_says_which(client, pbr_source, fresh_cache):
    body = {"template": spec_template("mli0111.nxs.pbr"), "node": 1, "export": "text"}
    texts = {
        r: post(client, "calculate", {**body, "resolution": r}).content.decode()
        for r in ("FWHM", "sigma")
    }
    for resolution, text in texts.items():
        assert read_provenance(text)["resolution"] == resolution
        assert f"# columns: Qz v dv dQ_{resolution}" in text
    fwhm, sigma = (np.loadtxt(texts[r].splitlines()) for r in ("FWHM", "sigma"))
    np.testing.assert_allclose(fwhm[:, 3] / sigma[:, 3], 2 * np.sqrt(2 * np.log(2)), rtol=1e-8)
    np.testing.assert_array_equal(fwhm[:, :3], sigma[:, :3])


def test_the_average_flux_is_plotted_and_exported(client, pbr_source, fresh_cache):
    template = refl_template(
        ("load", {"filelist": [fileinfo("mli0115.nxs.pbr")]}),
        ("normalize", {}),
        ("load", {"filelist": [{**fileinfo("mli0159.nxs.pbr"), "entries": ["DOWN_DOWN"]}]}),
        ("normalize", {"base": "time"}),
        ("average_flux", {}),
        wires=[(0, 1, "data"), (2, 3, "data"), (1, 4, "data"), (3, 4, "base")],
    )
    body = {"template": template, "node": 4, "terminal": "flux"}
    answer = post(client, "calculate", body)
    assert answer.status_code == 200, answer.content
    (shown,) = answer.json()["values"]
    assert shown["ylabel"] == "average flux (1/(s·cm²))" and shown["x"] == [1, 2]
    text = post(client, "calculate", {**body, "export": "text"})
    assert text.status_code == 200
    table = np.loadtxt(text.content.decode().splitlines())
    assert table.shape == (2, 6)  # number, dnumber, flux, dflux, time, dtime per data set
    np.testing.assert_allclose(table[:, 2], shown["y"], rtol=1e-9)


def test_only_ids_shaped_as_the_pool_makes_them_name_a_job(client, alice, redis_server):
    """A job's other records in Redis share its key's prefix: asked for as job ids, they are
    no job (404), not a failure reading them."""
    from beamtime.reduction import jobs

    job = jobs.new(alice)
    jobs._announce_end(job["id"])
    jobs.hand_back(job["id"], "output", {"values": []})
    jobs.redis_client().set(f"{jobs.PREFIX}for:some-result", job["id"], ex=60)
    assert client.get(f"/api/reduction/jobs/{job['id']}").json()["state"] == "queued"
    for crafted in (f"ended:{job['id']}", f"answer:{job['id']}:output", "for:some-result"):
        answer = client.get(f"/api/reduction/jobs/{crafted}")
        assert answer.status_code == 404, crafted
        assert answer.json()["error"] == "no such calculation (or it ended an hour ago)"


@pytest.mark.parametrize("form", ["text", "hdf5", "orso"])
def test_an_empty_output_is_not_exported(client, pbr_source, fresh_cache, form):
    body = {"template": spec_template(), "config": {"0": {"filelist": []}}, "node": 0}
    answer = post(client, "calculate", {**body, "export": form})
    assert answer.status_code == 422
    assert answer.json() == {"error": "node 0: nothing to export", "node": 0, "field": "export"}


def rescales(count: int, cycle: bool = False) -> dict:
    """An empty load → rescale → rescale → … (``count`` rescales), the last wired back into
    the first if ``cycle``."""
    template = refl_template(
        ("load", {"filelist": []}),
        *[("rescale", {})] * count,
        wires=[(i, i + 1, "data") for i in range(count)],
    )
    if cycle:
        template["wires"][0]["source"][0] = count
    return template


@pytest.mark.parametrize(
    "change, node, field, message",
    [
        ({1: {"module": ["refl.rescale"]}}, 1, None, "unknown module ['refl.rescale']"),
        ({1: {"module": {"a": 1}}}, 1, None, "unknown module {'a': 1}"),
        ({0: {"config": "abc"}}, 0, "config", "the config must be"),
        ({0: {"config": None}}, 0, "config", "the config must be"),
        ({0: {"config": [["filelist", [fileinfo("mli0115.nxs.pbr")]]]}}, 0, "config", "must be"),
        ({1: {"config": [["scale", 2.0]]}}, 1, "config", "the config must be"),
        ({"wire": {"source": [-1, "output"], "target": [1, "data"]}}, None, None, "must join"),
        ({"wire": {"source": [2, "output"], "target": [True, "data"]}}, None, None, "must join"),
    ],
)
def test_malformed_templates_are_refused_naming_the_node(
    client, pbr_source, change, node, field, message
):
    template = rescales(2)
    template["nodes"][0]["config"]["filelist"] = [fileinfo("mli0115.nxs.pbr")]
    for index, values in change.items():
        if index == "wire":  # with -1 for 2, or True for 1: a cycle 1 → 2 → 1
            template["wires"].append(values)
        else:
            template["nodes"][index].update(values)
    for form in (None, "orso"):
        answer = post(client, "calculate", {"template": template, "node": 2, "export": form})
        assert answer.status_code == 422, answer.content
        error = answer.json()
        assert error["node"] == node and error.get("field") == field
        assert message in error["error"]


def test_a_chain_of_thousands_of_steps_runs_and_a_cycle_as_long_is_refused(
    client, pbr_source, fresh_cache
):
    answer = post(client, "calculate", {"template": rescales(1500), "node": 1500})
    assert answer.status_code == 200 and answer.json()["values"] == []
    answer = post(client, "calculate", {"template": rescales(1500, cycle=True), "node": 1500})
    assert answer.status_code == 422 and answer.json()["node"] == 1
    assert answer.json()["error"].startswith("node 1: the wires form a cycle: 1 → 1500 → 1499")
    answer = post(client, "calculate", {"template": rescales(2001), "node": 2001})
    assert answer.status_code == 422
    assert answer.json()["error"] == "2001 wires: a template has at most 2000"
