import json
from contextlib import contextmanager

import pytest

from beamtime.reduction import service, sources
from tests.conftest import SHARED

PBR = SHARED / "data" / "ncnr-pbr"


@contextmanager
def data_sources(*configured):
    """The server's data sources as ``configured`` within the block, then as they were."""
    saved = dict(sources.SOURCES)
    sources.configure(list(configured))
    try:
        yield
    finally:
        sources.configure(list(saved.values()))


@pytest.fixture
def pbr_source():
    """The PBR raw files as the server's local data folder (named "local")."""
    with data_sources(sources.LocalSource("local", PBR), sources.DaqSource()):
        yield sources.SOURCES["local"]


@pytest.fixture
def fresh_cache(settings, tmp_path):
    """An empty on-disk step cache of the test's own."""
    settings.REDUCTION_CACHE_DIR = tmp_path / "cache"
    service.step_cache.cache_clear()
    yield service.step_cache()
    service.step_cache.cache_clear()


def fileinfo(name: str) -> dict:
    return {"source": "local", "path": name, "mtime": 0}


def refl_template(*nodes, wires=()) -> dict:
    """nodes: (module, config) pairs; wires: (source, target, target terminal) triples."""
    return {
        "name": "test",
        "instrument": "refl",
        "nodes": [
            {"module": f"refl.{m}", "title": m, "x": 0, "y": 0, "config": c} for m, c in nodes
        ],
        "wires": [{"source": [s, "output"], "target": [t, terminal]} for s, t, terminal in wires],
    }


def post(client, path: str, body: dict):
    """A JSON POST to the reduction API (/api/reduction/<path>)."""
    return client.post(f"/api/reduction/{path}", json.dumps(body), content_type="application/json")
