"""Where raw data come from: the server's local data folder, an HTTP data store, and the run
files Beamtime's own DAQ filed.

A file is named by a *file info*, ``{"source": NAME, "path": "a/b.nxs", "mtime": SECONDS}``,
which is what a loader module's control holds and what its cache key hashes: a file rewritten
later has a new mtime, so everything computed from it is computed again. Where mtimes are whole
seconds (the daq source, over SFTP), the info holds the file's ``size`` too. Paths are relative to
the source's root; one that would lead outside it (``..``, an absolute path, a backslash, a
NUL) is refused before any file is touched.

Sources are set up once from settings (``configure``); which of them a user may read is
decided by ``visible_to``. Listing and fetching raise SourceError with a one-line message.
"""

import email.utils
import ipaddress
import os
import posixpath
import re
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

# Raw files larger than this are refused: a NeXus scan is a few MB, not gigabytes.
MAX_FILE_BYTES = 256 * 2**20
HTTP_TIMEOUT = 10.0


class SourceError(ValueError):
    """A file or folder that cannot be listed or read; the message is one line."""


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: int | None = None
    mtime: float | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "dir": self.is_dir, "size": self.size, "mtime": self.mtime}


def clean_path(path: str) -> str:
    """``path`` as a relative POSIX path inside a source root ("" is the root itself)."""
    if not isinstance(path, str) or "\0" in path or "\\" in path:
        raise SourceError(f"path {path!r} is not allowed")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts or re.match(r"^[A-Za-z][\w+.-]*:", path):
        raise SourceError(f"path {path!r} leads outside the data source")
    return "/".join(parts)


class Source:
    name: str
    description: str

    def list(self, path: str, user) -> list[Entry]:
        raise NotImplementedError

    def mtime(self, path: str) -> float:
        """The file's current modification time (what makes a cache key change)."""
        raise NotImplementedError

    def version(self, path: str) -> dict:
        """What a file info holds of the file's current version."""
        return {"mtime": self.mtime(path)}

    def fetch(self, path: str) -> bytes:
        raise NotImplementedError

    def allows(self, user, path: str) -> bool:
        """Whether ``user`` may read ``path`` here (every signed-in user, unless a source
        says otherwise)."""
        return True

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description}


class LocalSource(Source):
    """A folder on the server. Reductus' rule: offered only by a server that listens on
    loopback, since anyone who reaches the server could otherwise read the folder."""

    def __init__(self, name: str, root: Path | str, description: str = ""):
        self.name, self.root = name, Path(root).resolve()
        self.description = description or f"files on this server under {self.root}"

    def _inside(self, full: Path) -> bool:
        return full == self.root or self.root in full.parents

    def _resolve(self, path: str) -> Path:
        full = (self.root / clean_path(path)).resolve()
        if not self._inside(full):  # a symlink pointing out
            raise SourceError(f"path {path!r} leads outside the data source")
        return full

    def list(self, path, user):
        folder = self._resolve(path)
        try:
            entries = []
            with os.scandir(folder) as it:
                for e in it:
                    if e.name.startswith("."):
                        continue
                    if e.is_symlink() and not self._inside(Path(e.path).resolve()):
                        continue  # a link out of the folder: neither shown nor readable
                    info = e.stat()
                    is_dir = stat.S_ISDIR(info.st_mode)
                    entries.append(
                        Entry(e.name, is_dir, None if is_dir else info.st_size, info.st_mtime)
                    )
        except OSError as exc:
            raise SourceError(f"{self.name}:{path}: {exc.strerror}") from None
        return sorted(entries, key=lambda e: (not e.is_dir, e.name))

    def mtime(self, path):
        try:
            found = self._resolve(path).stat()
        except OSError as exc:
            raise SourceError(f"{self.name}:{path}: {exc.strerror}") from None
        if not stat.S_ISREG(found.st_mode):
            raise SourceError(f"{self.name}:{path}: not a file")
        return found.st_mtime

    def fetch(self, path):
        full = self._resolve(path)
        try:
            if full.stat().st_size > MAX_FILE_BYTES:
                raise SourceError(f"{self.name}:{path}: larger than {MAX_FILE_BYTES} bytes")
            return full.read_bytes()
        except OSError as exc:
            raise SourceError(f"{self.name}:{path}: {exc.strerror}") from None


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _origin(url: str) -> tuple:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the store's scheme, host and port."""

    def __init__(self, source: "HttpSource"):
        self.source = source

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(self.source.base):
            raise SourceError(
                f"{self.source.name}: {req.full_url}: redirected to {newurl}, "
                f"away from {self.source.base}"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpSource(Source):
    """A data store over HTTP: folders are directory index pages (Apache, nginx, Python's
    http.server), a file's mtime is its Last-Modified header."""

    def __init__(self, name: str, base_url: str, description: str = ""):
        self.name, self.base = name, base_url.rstrip("/") + "/"
        self.description = description or f"files at {self.base}"
        self._opener = urllib.request.build_opener(_SameOrigin(self))

    def _url(self, path: str, folder: bool = False) -> str:
        path = clean_path(path)
        return self.base + urllib.parse.quote(path) + ("/" if folder and path else "")

    def _open(self, url: str, method: str = "GET"):
        try:
            return self._opener.open(
                urllib.request.Request(url, method=method), timeout=HTTP_TIMEOUT
            )
        except urllib.error.HTTPError as exc:
            raise SourceError(f"{self.name}: {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"{self.name}: {url}: {reason}") from None

    def list(self, path, user):
        url = self._url(path, folder=True)
        with self._open(url) as response:
            page = response.read(MAX_FILE_BYTES).decode("utf-8", "replace")
        parser = _Links()
        parser.feed(page)
        entries = {}
        for href in parser.hrefs:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(url, href))
            here = urllib.parse.urlsplit(url)
            if (target.scheme, target.netloc) != (here.scheme, here.netloc) or target.query:
                continue
            rest = target.path.removeprefix(here.path)
            if rest == target.path or not rest.strip("/") or "/" in rest.rstrip("/"):
                continue  # not directly inside this folder (parent links, sort links, …)
            name = urllib.parse.unquote(rest.rstrip("/"))
            if not name.startswith("."):
                entries[name] = Entry(name, rest.endswith("/"))
        return sorted(entries.values(), key=lambda e: (not e.is_dir, e.name))

    def mtime(self, path):
        url = self._url(path)
        with self._open(url, "HEAD") as response:
            if response.geturl().endswith("/"):  # redirected to its index page
                raise SourceError(f"{self.name}: {url}: a folder, not a file")
            modified = response.headers.get("Last-Modified")
        if not modified:
            raise SourceError(f"{self.name}: {url}: the server sends no Last-Modified header")
        try:
            return email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            raise SourceError(f"{self.name}: {url}: bad Last-Modified {modified!r}") from None

    def fetch(self, path):
        url = self._url(path)
        with self._open(url) as response:
            data = response.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise SourceError(f"{self.name}: {url}: larger than {MAX_FILE_BYTES} bytes")
        return data


class DaqSource(Source):
    """Run files filed by the DAQ: ``EXPERIMENT/ROUTER/run_NNNN/FILE``, read on the data
    router's host (directly or over SSH). Only the experiment's members, coordinators and staff
    see them (core.access.experiments_for_user).
    A file's version is its modification time and its size: over SFTP (v3, OpenSSH's) the time
    is in whole seconds, and a file written again within one second most often changes size."""

    name = "daq"
    description = "run files of your experiments, as the DAQ filed them"

    def _split(self, path: str) -> list[str]:
        cleaned = clean_path(path)
        return cleaned.split("/") if cleaned else []

    def _experiments(self, user):
        from beamtime.core.access import experiments_for_user

        return experiments_for_user(user)

    def _router(self, experiment: str, router: str):
        from beamtime.daq.models import DataRouter

        found = DataRouter.objects.filter(experiment__name=experiment, name=router).first()
        if found is None or not found.staging_directory:
            raise SourceError(f"daq: no data router {router!r} in experiment {experiment!r}")
        return found

    def allows(self, user, path):
        parts = self._split(path)
        return not parts or self._experiments(user).filter(name=parts[0]).exists()

    def _filed(self, call):
        """``call(files)`` with the open FiledFiles of the enclosing ``one_connection_per_host``
        block, or with one of its own."""
        from beamtime.daq.filed import FiledFiles, WorkerError

        try:
            if _scope.files is not None:
                return call(_scope.files)
            with FiledFiles() as files:
                return call(files)
        except WorkerError as exc:
            raise SourceError(f"daq: {exc}") from None

    def list(self, path, user):
        parts = self._split(path)
        if not self.allows(user, path):
            raise SourceError(f"daq: no experiment {parts[0]!r} of yours")
        if not parts:
            return [Entry(e.name, True) for e in self._experiments(user).order_by("name")]
        if len(parts) == 1:
            routers = self._experiments(user).get(name=parts[0]).data_routers.all()
            return [Entry(r.name, True) for r in routers if r.staging_directory]
        router = self._router(*parts[:2])
        folder = "/".join([parts[0], *parts[2:]])
        entries = self._filed(lambda files: files.entries(router, folder))
        return sorted(
            (
                Entry(n, True) if found is None else Entry(n, False, found.size, found.mtime)
                for n, found in entries.items()
            ),
            key=lambda e: (not e.is_dir, e.name),
        )

    def _file(self, path: str) -> tuple:
        parts = self._split(path)
        if len(parts) < 4:
            raise SourceError(f"daq: {path!r} is not EXPERIMENT/ROUTER/run_NNNN/FILE")
        return self._router(*parts[:2]), "/".join([parts[0], *parts[2:]])

    def _stat(self, path: str):
        router, file = self._file(path)
        folder, name = posixpath.split(file)
        found = self._filed(lambda files: files.entries(router, folder)).get(name)
        if found is None:
            raise SourceError(f"daq: {path}: no such file")
        return found

    def mtime(self, path):
        return self._stat(path).mtime

    def version(self, path):
        found = self._stat(path)
        return {"mtime": found.mtime, "size": found.size}

    def fetch(self, path):
        router, file = self._file(path)
        return self._filed(lambda files: files.read(router, file, MAX_FILE_BYTES))


SOURCES: dict[str, Source] = {}


class _Scope(threading.local):
    files = None


_scope = _Scope()


@contextmanager
def one_connection_per_host():
    """Within the block, the daq source opens one connection per data router's host and lists
    each folder once (a request that reads a run's files costs one SSH handshake)."""
    if _scope.files is not None:  # already inside one
        yield
        return
    from beamtime.daq.filed import FiledFiles

    with FiledFiles() as files:
        _scope.files = files
        try:
            yield
        finally:
            _scope.files = None


def configure(sources: list[Source]) -> None:
    SOURCES.clear()
    SOURCES.update((s.name, s) for s in sources)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def from_settings(settings) -> list[Source]:
    """The sources the settings name (see README, "Data reduction")."""
    found: list[Source] = []
    if settings.REDUCTION_LOCAL_DATA and is_loopback(settings.LISTEN_HOST):
        found.append(LocalSource("local", settings.REDUCTION_LOCAL_DATA))
    for name, url in settings.REDUCTION_HTTP_SOURCES.items():
        found.append(HttpSource(name, url))
    found.append(DaqSource())
    return found


def source(name: str) -> Source:
    if name not in SOURCES:
        raise SourceError(f"no data source {name!r}")
    return SOURCES[name]


def check_fileinfo(info) -> tuple[Source, str]:
    if not isinstance(info, dict) or not isinstance(info.get("source"), str):
        raise SourceError(f"a file is {{source, path, mtime}}, not {info!r}")
    return source(info["source"]), clean_path(info.get("path", ""))


def current(info: dict, user) -> dict:
    """The file info with the file's current version, if ``user`` may read it; the entries
    (cross-sections) it chooses, if any, are kept for the loader to check."""
    src, path = check_fileinfo(info)
    if not path:
        raise SourceError(f"{src.name}: a file info names no file")
    if not src.allows(user, path):
        raise SourceError(f"{src.name}:{path}: not yours to read")
    chosen = {"entries": info["entries"]} if "entries" in info else {}
    return {"source": src.name, "path": path, **src.version(path), **chosen}


def fetch(info: dict) -> bytes:
    src, path = check_fileinfo(info)
    return src.fetch(path)
