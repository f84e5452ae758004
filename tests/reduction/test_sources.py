"""Data sources: a local folder (on loopback only), an HTTP store (a real http.server on
loopback, mtime from Last-Modified), and traversal refused everywhere."""

import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamtime.reduction import sources
from beamtime.reduction.sources import HttpSource, LocalSource, SourceError, clean_path
from tests.reduction.conftest import PBR


@pytest.fixture
def store(tmp_path):
    (tmp_path / "2014" / "pbr").mkdir(parents=True)
    (tmp_path / "2014" / "pbr" / "mli0115.nxs.pbr").write_bytes(
        (PBR / "mli0115.nxs.pbr").read_bytes()
    )
    os.utime(tmp_path / "2014" / "pbr" / "mli0115.nxs.pbr", (1_400_000_000, 1_400_000_000))
    (tmp_path / "2014" / "notes.txt").write_text("hello")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_an_http_store_lists_folders_and_dates_files(store):
    root, url = store
    source = HttpSource("ncnr", url)
    assert [(e.name, e.is_dir) for e in source.list("", None)] == [("2014", True)]
    assert [(e.name, e.is_dir) for e in source.list("2014", None)] == [
        ("pbr", True),
        ("notes.txt", False),
    ]
    assert source.mtime("2014/pbr/mli0115.nxs.pbr") == 1_400_000_000
    assert (
        source.fetch("2014/pbr/mli0115.nxs.pbr") == (root / "2014/pbr/mli0115.nxs.pbr").read_bytes()
    )
    with pytest.raises(SourceError, match="HTTP 404"):
        source.fetch("2014/missing.nxs")
    with pytest.raises(SourceError, match="outside"):
        source.fetch("../etc/passwd")


def test_a_local_folder_refuses_paths_and_links_that_lead_out(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "secret").write_text("no")
    (tmp_path / "data" / "escape").symlink_to(tmp_path / "secret")
    source = LocalSource("local", tmp_path / "data")
    for bad in ("../secret", "/etc/passwd", "a/../../secret", "escape", "x\\..\\y", "file:///etc"):
        with pytest.raises(SourceError, match="outside|not allowed"):
            source.fetch(bad)


@given(st.text(max_size=40))
def test_clean_paths_never_climb_out(path):
    try:
        cleaned = clean_path(path)
    except SourceError:
        return
    parts = cleaned.split("/")
    assert ".." not in parts and not cleaned.startswith("/") and "\0" not in cleaned


@pytest.mark.parametrize(
    "host, offered",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_the_local_folder_is_offered_on_loopback_only(tmp_path, host, offered):
    settings = SimpleNamespace(
        REDUCTION_LOCAL_DATA=str(tmp_path),
        LISTEN_HOST=host,
        REDUCTION_HTTP_SOURCES={"ncnr": "http://x/"},
    )
    names = [s.name for s in sources.from_settings(settings)]
    assert ("local" in names) == offered and {"ncnr", "daq"} <= set(names)


def test_serve_tells_the_settings_where_it_listens(monkeypatch):
    from beamtime import cli

    seen = {}

    def stop(*args):  # stands in for the start-up, once the environment is set
        seen["host"] = os.environ.get("BEAMTIME_LISTEN_HOST")
        raise SystemExit(0)

    monkeypatch.setattr(cli, "check_port_free", lambda *a: None)
    monkeypatch.setattr(cli, "settings_only", stop)
    monkeypatch.delenv("BEAMTIME_LISTEN_HOST", raising=False)
    with pytest.raises(SystemExit):
        cli.run_serve(SimpleNamespace(host="0.0.0.0", port=8000))
    assert seen["host"] == "0.0.0.0"


def test_a_shared_redis_with_a_disk_cache_is_warned_of(settings):
    from django.core import checks

    settings.EMBEDDED_REDIS, settings.REDUCTION_IN_WORKERS = False, True
    settings.REDUCTION_CACHE = "disk"
    assert [w.id for w in checks.run_checks()] == ["beamtime.reduction.W001"]
    settings.REDUCTION_CACHE = "redis"
    assert checks.run_checks() == []
    settings.EMBEDDED_REDIS, settings.REDUCTION_CACHE = True, "disk"  # one machine
    assert checks.run_checks() == []
