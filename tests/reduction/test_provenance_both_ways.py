"""Provenance both ways: a polarized data set (and its fits) names the reduction — template,
node, efficiencies, raw files, the DAQ run and configuration they belong to — and the reduction
lists the data sets and fits made of its outputs, to their owner only."""

import copy
import time
from datetime import UTC, datetime

import pytest

from beamtime.fitting.models import Dataset, FitJob
from beamtime.reduction import export
from beamtime.reduction.api import MAX_LOOKUP_NODES
from beamtime.reduction.dataflow.template import MAX_WIRES
from tests.fitting.test_polarized import pbr_data, stock_polarized  # noqa: F401 (fixture)
from tests.reduction.conftest import fresh_cache, post  # noqa: F401 (fixture)
from tests.reduction.test_provenance_chain import daq_template, filed_run  # noqa: F401

pytestmark = pytest.mark.django_db


def made_from(client, template) -> list[dict]:
    answer = post(client, "fits", {"template": template})
    assert answer.status_code == 200, answer.content
    return answer.json()["datasets"]


@pytest.fixture
def polarized_fit(client, alice, pbr_data, fresh_cache):  # noqa: F811 (fixtures)
    """alice's polarized data set made by Fit this data, and a finished fit of it."""
    client.force_login(alice)
    template, node = stock_polarized()
    answer = post(client, "fit", {"template": template, "node": node, "together": True})
    assert answer.status_code == 201, answer.content
    dataset = Dataset.objects.get(pk=answer.json()["dataset"])
    job = FitJob.objects.create(
        owner=alice, dataset=dataset, model={}, engine="lm", state="done", chisq=1.25
    )
    return template, node, dataset, job


def test_the_fit_pages_name_the_reduction_and_its_efficiencies(client, polarized_fit):
    template, node, dataset, job = polarized_fit
    (used,) = dataset.provenance["polarization"]
    fp = used["values"][0]["fp"][0] * 100
    dfp = used["values"][0]["dfp"][0] * 100
    for url in (
        f"/fit/refl/{dataset.pk}",
        f"/fitting/jobs/{job.pk}/",
        f"/fitting/data/{dataset.pk}/",
    ):
        page = client.get(url).content.decode()
        assert "with the template <strong>Polarized (reductus)</strong>" in page, url
        assert "node “correct polarization”" in page
        assert "<code>local:reductus-pbr/mli0170.nxs.pbr</code>" in page
        assert "<code>local:ncnr-pbr/mli0159.nxs.pbr</code>" in page
        assert (
            f"Polarization efficiencies used (node {used['node']}, “estimate polarization”" in page
        )
        assert f"<td>{fp:.2f} ± {dfp:.2f}</td>" in page  # the front polarizer, in %
        assert f'href="/reduction/?dataset={dataset.pk}"' in page


def test_the_reduction_lists_what_was_made_of_it(client, alice, charlie, polarized_fit):
    template, node, dataset, job = polarized_fit
    (listed,) = made_from(client, template)
    assert listed["dataset"] == dataset.pk and listed["node"] == node
    assert listed["cross_sections"] == ["++", "+-", "-+", "--"]
    assert listed["url"] == f"/fit/refl/{dataset.pk}"
    assert listed["fits"] == [
        {
            "id": job.pk,
            "engine": "lm",
            "state": "done",
            "chisq": 1.25,
            "url": f"/fitting/jobs/{job.pk}/",
        }
    ]

    # the same reduction, moved about, renamed, with a step more after it: still found
    edited = copy.deepcopy(template)
    edited["name"] = "my polarized reduction"
    for index, step in enumerate(edited["nodes"]):
        step.update(x=step["x"] + 40, y=step["y"] + 10 * index, title=f"step {index}")
    edited["nodes"].append(
        {"module": "refl.mask_points", "title": "more", "x": 0, "y": 0, "config": {}}
    )
    edited["wires"].append(
        {"source": [node, "output"], "target": [len(edited["nodes"]) - 1, "data"]}
    )
    assert [d["node"] for d in made_from(client, edited)] == [node]

    # another reduction (a different mask upstream) made none of it
    other = copy.deepcopy(template)
    other["nodes"][2]["config"]["mask_indices"] = [list(range(12))] * 4
    assert made_from(client, other) == []

    # charlie, with the very same template, sees nothing of alice's
    client.force_login(charlie)
    assert made_from(client, template) == []


def test_an_uploaded_export_of_the_reduction_is_listed_too(client, alice, polarized_fit):
    from django.core.files.uploadedfile import SimpleUploadedFile

    template, node, dataset, _ = polarized_fit
    orso = post(client, "calculate", {"template": template, "node": node, "export": "orso"})
    client.post("/fitting/upload", {"file": SimpleUploadedFile("r.ort", orso.content)})
    uploaded = Dataset.objects.exclude(pk=dataset.pk).get()
    assert uploaded.is_polarized
    # the export carries the efficiencies the correction used, as Fit this data keeps them
    assert uploaded.provenance["polarization"] == dataset.provenance["polarization"]
    page = client.get(f"/fitting/data/{uploaded.pk}/").content.decode()
    assert "Polarization efficiencies used" in page
    listed = made_from(client, template)
    assert sorted(d["dataset"] for d in listed) == [dataset.pk, uploaded.pk]
    assert {d["node"] for d in listed} == {node}
    assert [d["fits"] for d in listed if d["dataset"] == uploaded.pk] == [[]]


def test_a_bad_template_is_refused(client, alice):
    client.force_login(alice)
    answer = post(client, "fits", {"template": {"name": "x"}})
    assert answer.status_code == 422 and "nodes" in answer.json()["error"]
    assert made_from(client, {"name": "x", "nodes": [{"module": 3}], "wires": [7]}) == []
    huge = {"name": "x", "nodes": [{"module": "refl.load", "config": {}}] * 501, "wires": []}
    answer = post(client, "fits", {"template": huge})
    assert answer.status_code == 422
    assert answer.json()["error"] == "501 nodes: the fits of at most 500 are looked up"


def test_the_largest_template_is_looked_up_at_once_and_one_wire_more_refused(client, polarized_fit):
    """At most MAX_LOOKUP_NODES nodes and MAX_WIRES wires; each node's reduction depends on
    nearly all of them here. 500 nodes and 180 000 wires (9.7 MB) took 314 s."""
    template, node, dataset, _ = polarized_fit
    big = copy.deepcopy(template)
    first = len(big["nodes"])
    big["nodes"] += [{"module": "refl.rescale", "config": {}}] * (MAX_LOOKUP_NODES - first)
    big["wires"] += [  # a chain of rescales after the reduction's output
        {"source": [index - 1 if index > first else node, "output"], "target": [index, "data"]}
        for index in range(first, MAX_LOOKUP_NODES)
    ]
    big["wires"] += [{"source": [node, "output"], "target": [first, "data"]}] * (
        MAX_WIRES - len(big["wires"])
    )
    started = time.monotonic()
    assert [d["node"] for d in made_from(client, big)] == [node]
    assert time.monotonic() - started < 60  # generous: some seconds on a loaded machine
    for count in (MAX_WIRES + 1, 180_000):
        big["wires"] += [big["wires"][-1]] * (count - len(big["wires"]))
        answer = post(client, "fits", {"template": big})
        assert answer.status_code == 422
        assert answer.json()["error"] == f"{count} wires: a template has at most {MAX_WIRES}"


def test_the_fingerprints_of_all_nodes_read_the_wires_once(polarized_fit):
    """Not once per node (the cost of the lookup above grew as nodes times wires)."""
    template, node, _, _ = polarized_fit

    class Wires(list):
        reads = 0

        def __iter__(self):
            Wires.reads += 1
            return super().__iter__()

    nodes = range(len(template["nodes"]))
    counted = {**template, "wires": Wires(template["wires"])}
    found = export.fingerprints(counted, {}, nodes)
    assert Wires.reads == 1
    assert found == {i: export.fingerprint(template, {}, i) for i in nodes}
    assert found[node] is not None


def test_a_run_filed_by_the_daq_links_to_its_run_and_configuration(
    client,
    alice,
    bob,
    charlie,
    filed_run,  # noqa: F811 (fixture)
    fresh_cache,  # noqa: F811 (fixture)
):
    from beamtime.configs import store
    from beamtime.configs.models import Instrument
    from beamtime.daq.models import Experiment, RunMetadata

    experiment = Experiment.objects.get(name="e1")
    ecc = Instrument.objects.create(name="ecc-e1", title="ECC configurations of e1")
    experiment.config_instrument = ecc
    experiment.save()
    start = datetime(2026, 12, 1, 18, tzinfo=UTC)
    change = store.apply_change(ecc, {"cobo-0": {"describe": "d1"}}, valid_from=start)
    RunMetadata.objects.filter(run_number=7).update(
        config_change=change, start_datetime=start, title="mli01 in 0.7 T"
    )
    client.force_login(alice)
    template = daq_template(filed_run)
    answer = post(client, "fit", {"template": template, "node": 2, "index": 0})
    assert answer.status_code == 201, answer.content
    page = client.get(answer.json()["url"]).content.decode()
    assert f'<code>daq:{filed_run}</code> (<span class="run">run 7 of e1, “mli01 in 0.7 T”' in page
    assert 'href="/daq/runs/7/files"' in page
    assert 'href="/configs/ecc-e1/?at=20261201T18:00:00.000000"' in page
    # the configuration it names is the one valid at the run's start
    history = client.get("/configs/ecc-e1/?at=20261201T18:00:00.000000")
    assert history.status_code == 200 and "d1" in history.content.decode()

    # once the experiment is no longer the active one, the run is named, not linked
    Experiment.objects.filter(pk=experiment.pk).update(is_active=False)
    page = client.get(answer.json()["url"]).content.decode()
    assert "run 7 of e1" in page and "/daq/runs/7/files" not in page

    # bob is a member of nothing here and charlie neither: alice's data set is hers alone
    for other in (bob, charlie):
        client.force_login(other)
        assert client.get(answer.json()["url"]).status_code == 404
        assert made_from(client, template) == []
