"""Calculations on the reduction pool: a real Celery worker (tests/conftest.py) and the real
Redis, sharing the step cache with this process (the web side). A PBR scan blown up to 10⁵
points (NICE's own file, its per-point logs repeated) takes seconds to reduce, as the issue's
large NeXus file did: the request answers 202 at once, the job reports its steps, and the
result then comes from the shared cache; past the time or memory limit the job fails with a
message that says which limit."""

import json
import re
import shutil
import time

import h5py
import numpy as np
import pytest

from beamtime.reduction import jobs, service, sources
from tests.conftest import reduction_data
from tests.reduction.conftest import PBR, data_sources, fileinfo, refl_template

POINTS = 100_000


def blow_up(name: str, points: int = POINTS) -> str:
    """A copy of mli0115 in the worker's data folder with every per-point log ``points``
    long (the 15 measured points repeated)."""
    path = reduction_data() / name
    if path.exists():
        return name
    shutil.copy(PBR / "mli0115.nxs.pbr", path)
    path.chmod(0o644)
    with h5py.File(path, "r+") as f:
        for entry in f.values():
            logs = entry["DAS_logs"]
            names = per_point(logs, len(logs["counter/liveROI"]))
            for key in names:
                data = logs[key][()]
                del logs[key]
                grown = np.resize(data, (points, *data.shape[1:]))
                logs.create_dataset(key, data=grown, compression="gzip")
    return name


def per_point(group, n: int) -> list[str]:
    """The datasets in ``group`` (at any depth) with one value per point of the scan."""
    found = []

    def visit(key, item):
        if isinstance(item, h5py.Dataset) and item.shape[:1] == (n,):
            found.append(key)

    group.visititems(visit)
    return found


def template(name: str) -> dict:
    return refl_template(
        ("load", {"filelist": [fileinfo(name)]}),
        ("normalize", {"base": "monitor"}),
        ("join", {}),
        wires=[(0, 1, "data"), (1, 2, "data")],
    )


@pytest.fixture
def pool(settings, celery_worker, transactional_db):
    """The web side as `beamtime serve` runs it: calculations go to the worker, which reads
    the same local folder and the same (Redis) cache."""
    settings.REDUCTION_IN_WORKERS = True
    settings.REDUCTION_CACHE = "redis"
    service.step_cache.cache_clear()
    with data_sources(sources.LocalSource("local", reduction_data()), sources.DaqSource()):
        service.instruments()  # loaded, as in a web process that has answered a reduction before
        yield
    service.step_cache.cache_clear()


def as_user(client, user):
    client.force_login(user)
    return client


def calculate(client, body: dict):
    return client.post(
        "/api/reduction/calculate", json.dumps(body), content_type="application/json"
    )


def follow(client, job: dict, timeout: float = 180.0) -> tuple[dict, list[tuple]]:
    """Poll the job until it ends, as the editor does: (its last state, the steps seen)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job["url"]).json()
        if job["steps"]:
            seen.append((job["step"], job["steps"], job["module"]))
        if job["state"] in ("done", "failed"):
            return job, seen
        time.sleep(0.2)
    pytest.fail(f"the job did not end in {timeout} s: {job}")


def test_a_heavy_calculation_runs_on_the_pool_and_the_cache_answers_again(
    pool, client, alice, bob, charlie
):
    body = {"template": template(blow_up("large.nxs.pbr")), "node": 2}
    as_user(client, alice)
    answer = calculate(client, body)
    # The web thread is free again after its short wait (REDUCTION_WAIT, 1 s), before the
    # calculation ends (about 10 s on an idle machine).
    assert answer.status_code == 202, answer.content
    job = answer.json()
    assert job["state"] in ("queued", "running")

    ended, seen = follow(client, job)
    assert ended["state"] == "done", ended
    assert ended["error"] is None
    # Progress as the page shows it: step k of the 3 steps, with the module computing.
    assert seen and {steps for _, steps, _ in seen} == {3}
    assert {module for _, _, module in seen} <= {"refl.load", "refl.normalize", "refl.join"}

    # Asked again, by alice or by anyone else allowed to read the file: from the cache.
    first = calculate(client, body)
    assert first.status_code == 200
    values = first.json()["values"]
    assert len(values) == 2  # the two cross-sections
    as_user(client, bob)
    queued = set(jobs.redis_client().scan_iter(jobs.PREFIX + "*"))
    again = calculate(client, body)
    assert again.status_code == 200 and again.json()["values"] == values
    assert set(jobs.redis_client().scan_iter(jobs.PREFIX + "*")) == queued  # no job this time

    # The numbers: the web process computing the same steps itself gives the same.
    from beamtime.reduction.dataflow.calc import MemoryCache
    from beamtime.reduction.dataflow.calc import calculate as compute
    from beamtime.reduction.dataflow.template import Template

    registry = service.instruments()["refl"]
    tpl = Template.from_dict(body["template"])
    config = service.with_current_files(tpl, {}, registry, alice)
    here = compute(tpl, registry, 2, "output", MemoryCache(), config)
    datatype = registry.datatypes[registry.modules["refl.join"].outputs[0].datatype]
    shown = [datatype.display(v) for v in here]
    flat = [c for item in shown for c in (item if isinstance(item, list) else [item])]
    assert json.loads(json.dumps(flat)) == values

    # A job is seen only by those who asked for it.
    as_user(client, charlie)
    assert client.get(job["url"]).status_code == 404


def test_a_calculation_past_the_time_limit_ends_with_a_clear_message(pool, client, alice, settings):
    settings.REDUCTION_TIME_LIMIT = 1
    as_user(client, alice)
    answer = calculate(client, {"template": template(blow_up("slow.nxs.pbr")), "node": 2})
    assert answer.status_code == 202, answer.content
    ended, _ = follow(client, answer.json())
    assert ended["state"] == "failed"
    assert "took longer than 1 s, the reduction time limit" in ended["error"]["error"]


def test_a_calculation_past_the_memory_limit_ends_with_a_clear_message(
    pool, client, alice, settings
):
    settings.REDUCTION_MEMORY_MB = 16
    as_user(client, alice)
    # 10⁶ points: ~30 arrays of 8 MB per cross-section, beyond what the pool process's heap
    # may still hold from earlier calculations
    big = blow_up("big.nxs.pbr", points=1_000_000)
    answer = calculate(client, {"template": template(big), "node": 2})
    if answer.status_code == 202:
        ended, _ = follow(client, answer.json())
        assert ended["state"] == "failed"
        message = ended["error"]["error"]
    else:  # it failed within the request's short wait: the refusal itself
        assert answer.status_code == 422, answer.content
        message = answer.json()["error"]
    assert "needs more than 16 MiB of memory, the reduction limit" in message


def test_the_editor_shows_the_steps_of_a_long_calculation_then_plots(pool, live_server, page):
    from playwright.sync_api import expect

    from tests.browser.test_smoke import log_in, shoot
    from tests.factory import make_user

    make_user("ada")
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, "/reduction/")
    steps = template(blow_up("editor.nxs.pbr"))
    for index, step in enumerate(steps["nodes"]):
        step.update(x=20 + 200 * index, y=30)
    stored = json.dumps(steps)
    page.evaluate(
        "t => { localStorage.setItem('beamtime.reduction.instrument', '\"refl\"');"
        " localStorage.setItem('beamtime.reduction.template.refl', t); }",
        stored,
    )
    page.reload()
    join = "#diagram [data-node='2'] [data-kind=output][data-terminal=output] .port"
    page.locator(join).click()
    busy = page.locator("#busy")
    expect(busy).to_contain_text(
        re.compile(r"calculating step \d of 3 \(\w+\)… \d+ s"), timeout=60_000
    )
    shoot(page, "reduction-pool-progress")
    expect(page.locator("#plot .legend .traces")).to_have_count(2, timeout=180_000)
    expect(busy).to_be_hidden()
    shoot(page, "reduction-pool-plotted")
    assert errors == []


def described(client, files: list) -> list:
    """The file browser's summaries of ``files``, as the page gets them: asked again once the
    job that reads them is done, if they were not read within the request's short wait."""
    body = json.dumps({"instrument": "refl", "files": files})
    ask = lambda: client.post(  # noqa: E731
        "/api/reduction/files/describe", body, content_type="application/json"
    )
    answer = ask()
    if answer.status_code == 202:
        ended, _ = follow(client, answer.json())
        assert ended["state"] == "done", ended
        answer = ask()
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_the_file_browser_reads_large_files_on_the_pool(pool, client, alice):
    as_user(client, alice)
    files = [fileinfo(blow_up("described.nxs.pbr")), fileinfo("../outside.nxs")]
    large, refused = described(client, files)
    assert [e["points"] for e in large["entries"]] == [POINTS, POINTS]
    assert "error" in refused  # a path outside the source, refused in the web process


def test_the_file_browser_describes_a_folder_with_a_file_no_reader_understands(pool, client, alice):
    """A README beside the runs (as in every shared data folder): its refusal is kept like a
    summary, so the next request is answered from the cache, with no job."""
    (reduction_data() / "README.md").write_text("# runs of the week\n")
    as_user(client, alice)
    files = [fileinfo(copied("browsed.nxs.pbr")), fileinfo("README.md")]
    run, readme = described(client, files)
    assert [e["polarization"] for e in run["entries"]] == ["--", "++"]
    assert "README.md" in readme["error"] and "entries" not in readme
    queued = jobs_queued()
    assert described(client, files) == [run, readme]
    assert jobs_queued() == queued  # from the cache: no job this time


def copied(name: str) -> str:
    """mli0115 as it is, under a name of its own in the worker's data folder (so that no
    earlier test has its steps in the shared cache)."""
    path = reduction_data() / name
    if not path.exists():
        shutil.copy(PBR / "mli0115.nxs.pbr", path)
        path.chmod(0o644)
    return name


def computed_here(user, body: dict) -> list:
    """The plot of ``body``'s node as this (web) process computes it, cache aside."""
    from beamtime.reduction.dataflow.calc import MemoryCache
    from beamtime.reduction.dataflow.calc import calculate as compute
    from beamtime.reduction.dataflow.template import Template

    registry = service.instruments()["refl"]
    tpl = Template.from_dict(body["template"])
    config = service.with_current_files(tpl, {}, registry, user)
    values = compute(tpl, registry, body["node"], "output", MemoryCache(), config)
    datatype = registry.datatypes[registry.modules["refl.join"].outputs[0].datatype]
    return json.loads(json.dumps(service.plottable(values, datatype)["values"]))


def answers_kept() -> set:
    return set(jobs.redis_client().scan_iter(jobs.PREFIX + "answer:*"))


def ended(job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (job := jobs._load(job_id))["state"] in jobs.ACTIVE:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_a_small_calculation_is_answered_with_the_plot_its_job_hands_back(
    pool, client, alice, bob, settings
):
    settings.REDUCTION_WAIT = 60  # a loaded machine must not turn this into a 202
    body = {"template": template(copied("small.nxs.pbr")), "node": 2}
    as_user(client, alice)
    before = answers_kept()
    answer = calculate(client, body)
    assert answer.status_code == 200, answer.content
    assert answer.json()["datatype"] == "refldata"
    # handed back through Redis by the job, the same numbers as computed here
    handed = answers_kept() - before
    assert len(handed) == 1
    key = handed.pop()
    assert json.loads(jobs.redis_client().get(key)) == answer.json()
    assert answer.json()["values"] == computed_here(alice, body)
    # The job is done once its steps are in the cache: asked again then, by anyone allowed
    # to read the file, the web process answers from the cache, and no job is queued.
    job_id = key.decode().removeprefix(jobs.PREFIX + "answer:").rsplit(":", 1)[0]
    assert ended(job_id)["state"] == "done"
    as_user(client, bob)
    queued = set(jobs.redis_client().scan_iter(jobs.PREFIX + "*"))
    again = calculate(client, body)
    assert again.status_code == 200 and again.json() == answer.json()
    assert set(jobs.redis_client().scan_iter(jobs.PREFIX + "*")) == queued


def test_a_web_process_without_the_steps_has_the_pool_answer_and_imports_them_meanwhile(
    pool, client, alice, settings
):
    settings.REDUCTION_WAIT = 60
    body = {"template": template(copied("fresh.nxs.pbr")), "node": 2}
    as_user(client, alice)
    service.instruments.cache_clear()  # as in a web process at its first reduction request
    assert not service.loaded()
    answer = calculate(client, body)
    assert answer.status_code == 200, answer.content
    deadline = time.monotonic() + 60
    while not service.loaded():  # imported in the background
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert answer.json()["values"] == computed_here(alice, body)

    # A refusal is the same whichever process meets it.
    outside = {"template": template("../outside.nxs"), "node": 2}
    service.instruments.cache_clear()
    from_pool = calculate(client, outside)
    service.instruments()
    here = calculate(client, outside)
    assert from_pool.status_code == here.status_code == 422
    assert from_pool.json() == here.json()
    assert here.json()["node"] == 0 and here.json()["field"] == "filelist"


def test_a_plot_too_large_to_hand_back_is_read_from_the_cache(pool, alice, monkeypatch):
    from beamtime.reduction.dataflow.template import Template

    monkeypatch.setattr(jobs, "ANSWER_BYTES", 100)
    body = {"template": template(copied("large-plot.nxs.pbr")), "node": 2}
    job = jobs.new(alice)
    assert jobs.run(job["id"], alice.pk, {"calculate": body}) == "done"  # here, not on the pool
    assert jobs.answer(job, "output") is None
    t0 = time.monotonic()
    assert jobs.wait(alice, job, 30)["state"] == "done"  # its end was pushed: no wait
    assert time.monotonic() - t0 < 5
    tpl = Template.from_dict(body["template"])
    values, datatype, _ = service.run(alice, tpl, {}, 2, "output", compute=False)
    assert json.loads(json.dumps(service.plottable(values, datatype)["values"])) == (
        computed_here(alice, body)
    )


def jobs_queued() -> set:
    return set(jobs.redis_client().scan_iter(jobs.PREFIX + "*"))


def on_the_pool(client, body: dict):
    """The answer to ``body``, computed by a job, once the job has written its steps."""
    before = answers_kept()
    answer = calculate(client, body)
    assert answer.status_code == 200, answer.content
    (key,) = answers_kept() - before
    ended(key.decode().removeprefix(jobs.PREFIX + "answer:").rsplit(":", 1)[0])
    return answer


def scaled(name: str, scale: float) -> dict:
    """load → normalize → join → rescale by ``scale`` (a light step) of file ``name``."""
    return refl_template(
        ("load", {"filelist": [fileinfo(name)]}),
        ("normalize", {"base": "monitor"}),
        ("join", {}),
        ("rescale", {"scale": scale}),
        wires=[(0, 1, "data"), (1, 2, "data"), (2, 3, "data")],
    )


def test_a_light_step_on_cached_inputs_is_computed_here_without_a_job(
    pool, client, alice, bob, settings
):
    """The repeat after changing a control: only the rescale is missing, its input is cached,
    so the web process computes it itself and writes it to the shared cache once answered."""
    settings.REDUCTION_WAIT = 60
    name = copied("light.nxs.pbr")
    as_user(client, alice)
    joined = on_the_pool(client, {"template": scaled(name, 1.0), "node": 2})

    before = jobs_queued()
    body = {"template": scaled(name, 2.5), "node": 3}
    answer = calculate(client, body)
    assert answer.status_code == 200, answer.content
    assert jobs_queued() == before  # no job: computed by this process
    # y and dy are the joined ones times 2.5 (a factor without uncertainty), x unchanged
    for curve, base in zip(answer.json()["values"], joined.json()["values"], strict=True):
        assert curve["x"] == base["x"]
        assert np.allclose(curve["y"], np.multiply(base["y"], 2.5), rtol=1e-12)
        assert np.allclose(curve["dy"], np.multiply(base["dy"], 2.5), rtol=1e-12)
    assert answer.json()["values"] == computed_here(alice, body)

    # written to the shared cache once answered: another process (the pool's) finds it
    from beamtime.reduction.dataflow.calc import plan
    from beamtime.reduction.dataflow.template import Template

    registry = service.instruments()["refl"]
    tpl = Template.from_dict(body["template"])
    keys = plan(tpl, registry, 3, service.with_current_files(tpl, {}, registry, alice))
    assert keys[3] in service.step_cache()
    as_user(client, bob)
    assert calculate(client, body).json() == answer.json() and jobs_queued() == before


def test_a_light_step_on_more_points_than_allowed_goes_to_the_pool(pool, client, alice, settings):
    settings.REDUCTION_WAIT = 60
    name = copied("light-large.nxs.pbr")
    as_user(client, alice)
    on_the_pool(client, {"template": scaled(name, 1.0), "node": 2})
    settings.REDUCTION_LIGHT_POINTS = 10  # mli0115 holds 29 points
    before = answers_kept()
    body = {"template": scaled(name, 3.0), "node": 3}
    answer = calculate(client, body)
    assert answer.status_code == 200, answer.content
    assert len(answers_kept() - before) == 1  # a job computed it and handed the plot back
    assert answer.json()["values"] == computed_here(alice, body)


def test_a_step_that_is_not_light_goes_to_the_pool_even_on_cached_inputs(
    pool, client, alice, settings
):
    settings.REDUCTION_WAIT = 60
    name = copied("not-light.nxs.pbr")
    as_user(client, alice)
    on_the_pool(client, {"template": scaled(name, 1.0), "node": 1})
    assert not service.instruments()["refl"].modules["refl.join"].light
    before = answers_kept()
    joined = calculate(client, {"template": scaled(name, 1.0), "node": 2})
    assert joined.status_code == 200, joined.content
    assert len(answers_kept() - before) == 1  # the join was computed by a job


def test_a_job_asks_the_database_about_its_user_only_when_a_data_source_does(
    pool, alice, django_assert_num_queries
):
    # A file of the local folder is anyone's: the job computes it without a query.
    local = {"template": template(copied("no-query.nxs.pbr")), "node": 2}
    job = jobs.new(alice)
    with django_assert_num_queries(0):
        assert jobs.run(job["id"], alice.pk, {"calculate": local}) == "done"
    # A run's file is its experiment's members': the job looks the user up and refuses.
    daq = {"source": "daq", "path": "not-alices/router/run1.nxs.pbr", "mtime": 0}
    theirs = {"template": template("x"), "node": 2}
    theirs["template"]["nodes"][0]["config"]["filelist"] = [daq]
    job = jobs.new(alice)
    assert jobs.run(job["id"], alice.pk, {"calculate": theirs}) == "failed"
    assert "not yours to read" in jobs.get(alice, job["id"])["error"]["error"]
