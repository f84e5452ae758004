"""What a request names: at most MAX_TEMPLATE_FILES files, each distinct one looked up once; a
folder refused as a bad file list; no listing of links that lead out of the local folder; an
HTTP store's redirects followed only within the store (real files, real HTTP servers)."""

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from beamtime.reduction import service, sources
from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.loading import load
from tests.reduction.conftest import PBR, data_sources, post, refl_template

FILE = "mli0115.nxs.pbr"


@pytest.fixture
def client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def folder(tmp_path):
    """A copy of one PBR file and an empty sub-folder ("runs"), as the local source."""
    root = tmp_path / "data"
    (root / "runs").mkdir(parents=True)
    shutil.copy(PBR / FILE, root / FILE)
    with data_sources(sources.LocalSource("local", root), sources.DaqSource()):
        yield root


class Recording(SimpleHTTPRequestHandler):
    """A directory server that notes each request and answers the paths in ``moved`` with a
    redirect."""

    seen: list
    moved: dict

    def log_message(self, *args):
        pass

    def send_head(self):
        self.seen.append((self.command, self.path))
        if self.path in self.moved:
            self.send_response(302)
            self.send_header("Location", self.moved[self.path])
            self.end_headers()
            return None
        return super().send_head()


@pytest.fixture
def serve():
    """serve(folder, moved={}) → (base URL, requests seen); every server stopped after."""
    servers = []

    def start(root, moved=None):
        seen = []
        handler = type("Handler", (Recording,), {"seen": seen, "moved": moved or {}})
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_template_naming_too_many_files_is_refused_on_its_file_list(client, folder):
    limit = service.MAX_TEMPLATE_FILES
    info = {"source": "local", "path": FILE, "mtime": 0}
    fits = refl_template(("load", {"filelist": [info] * (limit - 1)}), ("load", {"filelist": []}))
    assert post(client, "cached", {"template": fits, "config": {}}).json() == {"cached": []}

    over = refl_template(("load", {"filelist": [info] * (limit - 1)}), ("load", {}))
    config = {"1": {"filelist": [info, info]}}  # the request's config counts too
    answer = post(client, "cached", {"template": over, "config": config})
    assert answer.status_code == 422
    body = answer.json()
    assert (body["node"], body["field"]) == (1, "filelist")
    assert f"{limit + 1} files" in body["error"] and f"at most {limit}" in body["error"]


def test_each_distinct_file_is_looked_up_once_per_request(client, tmp_path, serve, fresh_cache):
    shutil.copy(PBR / FILE, tmp_path / FILE)
    shutil.copy(PBR / "mli0111.nxs.pbr", tmp_path / "mli0111.nxs.pbr")
    url, seen = serve(tmp_path)
    one, other = (
        {"source": "store", "path": name, "mtime": 0} for name in (FILE, "mli0111.nxs.pbr")
    )
    with data_sources(sources.HttpSource("store", url)):
        template = refl_template(
            ("load", {"filelist": [one] * 300}),
            ("load", {"filelist": [one, other, {**one, "mtime": 1}]}),
        )
        answer = post(client, "cached", {"template": template, "config": {}})
        assert answer.status_code == 200, answer.content
        assert sorted(seen) == [("HEAD", f"/{name}") for name in ("mli0111.nxs.pbr", FILE)]

        seen.clear()
        described = post(client, "files/describe", {"instrument": "refl", "files": [one] * 3})
        first, *again = described.json()
        assert first["entries"] and again == [first, first]
        assert seen == [("HEAD", f"/{FILE}"), ("GET", f"/{FILE}")]


@pytest.mark.parametrize("named", [{"path": "runs"}, {"path": ""}, {}])
def test_a_folder_named_as_a_file_is_a_bad_file_list(client, folder, fresh_cache, caplog, named):
    info = {"source": "local", "mtime": 0, **named}
    template = refl_template(("load", {"filelist": [info]}))
    answer = post(client, "calculate", {"template": template, "node": 0, "terminal": "output"})
    assert answer.status_code == 422
    body = answer.json()
    assert (body["node"], body["field"]) == (0, "filelist")
    assert f"local:{named.get('path', '')}" in body["error"] or "names no file" in body["error"]
    assert not [r for r in caplog.records if r.name == "beamtime.reduction"]


def test_the_loader_refuses_a_file_it_cannot_fetch_as_a_bad_file_list(folder):
    (folder / "gone.nxs.pbr").write_bytes(b"")
    info = sources.current({"source": "local", "path": "gone.nxs.pbr"}, None)
    (folder / "gone.nxs.pbr").unlink()  # between the request and the worker reading it
    with pytest.raises(ParameterError, match="filelist: local:gone.nxs.pbr: No such file"):
        load([info])
    with pytest.raises(ParameterError, match="filelist: local:runs: Is a directory"):
        load([{"source": "local", "path": "runs", "mtime": 0}])


def test_links_out_of_the_local_folder_are_not_listed(client, folder, tmp_path):
    (tmp_path / "secret.nxs.pbr").write_text("not yours")
    (tmp_path / "elsewhere").mkdir()
    (folder / "runs" / "passwd.nxs.pbr").symlink_to(tmp_path / "secret.nxs.pbr")
    (folder / "runs" / "etcdir").symlink_to(tmp_path / "elsewhere")
    (folder / "runs" / "inside.nxs.pbr").symlink_to(folder / FILE)
    (folder / "runs" / "sub").symlink_to(folder / "runs" / ".." / "runs")
    listing = client.get("/api/reduction/sources/local/files", {"path": "runs"}).json()
    assert [(e["name"], e["dir"], e["size"]) for e in listing["entries"]] == [
        ("sub", True, None),
        ("inside.nxs.pbr", False, (PBR / FILE).stat().st_size),
    ]


def test_an_http_store_follows_redirects_only_within_itself(tmp_path, serve):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "elsewhere" / "x.nxs").write_bytes(b"from another host")
    (tmp_path / "store" / "y.nxs").write_bytes(b"from the store")
    other, other_seen = serve(tmp_path / "elsewhere")
    moved = {"/away.nxs": other + "x.nxs", "/old.nxs": "/y.nxs"}
    url, _ = serve(tmp_path / "store", moved)
    store = sources.HttpSource("store", url)
    assert store.fetch("old.nxs") == b"from the store"
    with pytest.raises(sources.SourceError, match=f"redirected to {other}x.nxs, away from {url}"):
        store.fetch("away.nxs")
    with pytest.raises(sources.SourceError, match="redirected"):
        store.mtime("away.nxs")
    assert other_seen == []
    (tmp_path / "store" / "runs").mkdir()
    with pytest.raises(sources.SourceError, match="runs: a folder, not a file"):
        store.mtime("runs")  # /runs redirected to /runs/, the folder's index page
