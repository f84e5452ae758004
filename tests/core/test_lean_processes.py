"""Web workers, beat and the run-control worker start without the scientific stack: refl1d,
bumps, scipy, numba (about 200 MiB), zeep, asyncssh, h5py and orsopy are imported only by the
requests and tasks that use them. Each check runs in a fresh interpreter, as a process starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["refl1d", "bumps", "scipy", "numba", "llvmlite", "zeep", "asyncssh", "h5py", "orsopy"]
HEAVY += ["matplotlib"]  # DREAM's figures: drawn by the request that asks for one
ROOT = Path(__file__).resolve().parents[2]


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules in sys.modules after ``code`` ran in a new interpreter."""
    script = (
        "import json, os, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'\n"
        f"{code}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_web_worker_serves_its_first_pages_without_the_scientific_stack():
    loaded = loaded_after(
        "from beamtime.wsgi import application\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "from django.test import Client\n"
        "client = Client(SERVER_NAME='localhost')\n"
        "assert client.get('/accounts/login/').status_code == 200\n"
        "assert client.get('/').status_code == 302\n"
    )
    assert loaded == []


def test_a_web_worker_compiles_its_first_query_before_its_first_request():
    # the models' relation graph, built by a process's first query (Options._relation_tree)
    loaded = loaded_after(
        "from beamtime.wsgi import application\n"
        "import threading\n"
        "warm = next(t for t in threading.enumerate() if t.name == 'warm up')\n"
        "from beamtime.core.models import ApiKey\n"
        "warm.join(60)\n"
        "assert not warm.is_alive()\n"
        "assert '_relation_tree' in ApiKey._meta.__dict__\n"
    )
    assert loaded == []


def test_beat_and_the_run_control_worker_load_their_tasks_without_it():
    loaded = loaded_after(
        "import django\n"
        "django.setup()\n"
        "from beamtime.celery import app\n"
        "app.loader.import_default_modules()\n"
        "assert 'beamtime.fitting.tasks.run_fit' in app.tasks\n"
        "assert 'beamtime.daq.tasks.transition' in app.tasks\n"
    )
    assert loaded == []


def test_a_reduction_worker_imports_the_reduction_stack_before_its_pool_forks():
    loaded = loaded_after(
        "from beamtime.celery import preload\n"
        "assert preload(['daq', 'fits']) == []\n"
        "assert 'h5py' not in sys.modules\n"
        "preload(['reduction', 'default'])\n"
        "from beamtime.reduction.instruments.refl.registry import registry\n"
        "assert 'refl.load' in registry.modules\n"
        # what a job opens around every calculation is there too (not imported by a first job)
        "before = set(sys.modules)\n"
        "from beamtime.reduction import sources\n"
        "with sources.one_connection_per_host(): pass\n"
        "assert set(sys.modules) <= before, sorted(set(sys.modules) - before)\n"
    )
    assert "h5py" in loaded and "refl1d" not in loaded


def test_a_request_that_needs_refl1d_still_gets_it():
    # Air on silicon, no roughness, no resolution: Fresnel's reflectivity, Qc² = 16π·SLD.
    loaded = loaded_after(
        "import django\n"
        "django.setup()\n"
        "import numpy as np\n"
        "from beamtime.fitting import refl1d_adapter\n"
        "from beamtime.fitting.data import ReflData\n"
        "from beamtime.fitting.layers import LayerModel\n"
        "model = LayerModel.from_dict(\n"
        "    {'front': {'name': 'air'}, 'back': {'name': 'Si', 'sld': 2.07}})\n"
        "q = np.linspace(0.02, 0.2, 20)\n"
        "curve = refl1d_adapter.evaluate(model, ReflData(q, np.ones(20), np.ones(20), None))\n"
        "kz = np.sqrt(q**2 - 16 * np.pi * 2.07e-6)\n"
        "fresnel = ((q - kz) / (q + kz)) ** 2\n"
        "assert np.allclose(curve.r, fresnel, rtol=1e-6), (curve.r, fresnel)\n"
    )
    assert "refl1d" in loaded and "bumps" in loaded


def test_a_reduction_process_grown_past_its_cap_is_replaced_after_its_task():
    from django.conf import settings

    from beamtime.cli import celery_worker_argv, max_memory_for

    pools = settings.WORKER_POOLS
    cap = pools["reduction"]["max_memory_mb"]
    assert max_memory_for(["fits", "reduction"], pools) == cap
    assert max_memory_for(["daq"], pools) is None
    argv = celery_worker_argv(["reduction"], 1, 60, max_memory_mb=cap)
    assert argv[argv.index("--max-memory-per-child") + 1] == str(cap * 1024)  # KiB
