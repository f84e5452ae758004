"""The computers the ECC servers and data routers run on: is a process up, which run files sit
in a staging folder, what does a log end with, and filing a run's files away when it ends.

A worker on this host is reached through the local filesystem (``LocalWorker``), any other over
SSH (``SshWorker``: SFTP for files, a remote command for process checks). Both share the file
organizing logic, so they behave the same. Use a worker as a context manager, or call
``close()``. Every failure — unreachable host, refused key, missing path — is a ``WorkerError``
whose one-line message names the host and, where there is one, the path.

asyncssh is imported by the SSH worker when it first connects, not by every web worker.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import re
import shlex
import stat
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import asyncssh

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DATA_ROUTER_PROCESS = "dataRouter"
ECC_SERVER_PROCESS = "getEccSoapServer"
RUN_FILES = "*.graw"
TAIL_CHUNK = 64 * 1024
TAIL_MAX = 4 * 1024 * 1024


class FileStat(NamedTuple):
    """A regular file's size (bytes) and modification time (seconds since the epoch)."""

    size: int
    mtime: float


class WorkerError(Exception):
    """A worker node could not do what was asked; the message is one line for the error log."""


class Unreachable(WorkerError):
    """The host did not answer, or the connection to it was lost."""


class UnsafePath(WorkerError, ValueError):
    """A name would lead outside the staging directory."""


@dataclass
class OrganizeResult:
    """What ``organize_run`` did. ``files`` is the destination's final content, the same
    whether the run was organized in one go or finished after a crash."""

    destination: str
    moved: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # staging name → name kept beside
    duplicates: list[str] = field(default_factory=list)  # identical copy already there: dropped
    files: list[str] = field(default_factory=list)


def check_name(name: str, what: str = "experiment name") -> str:
    """Return ``name`` if it is one plain folder or file name, else raise UnsafePath."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UnsafePath(f"{what} {name!r} must be a single name without path separators")
    return name


def pgrep_pattern(fragment: str) -> str:
    """A ``pgrep -f`` pattern for ``fragment`` that does not match its own command line: the
    shell running ``pgrep -f '[d]ataRouter'`` is not a dataRouter."""
    if not re.fullmatch(r"[\w./=+ -]+", fragment, re.ASCII):
        raise ValueError(f"process name {fragment!r} may hold only letters, digits and ._/=+ -")
    return "".join(f"[{c}]" if i == 0 or c in ".+" else c for i, c in enumerate(fragment))


def _matching(entries: dict[str, int | None], pattern: str) -> list[str]:
    return sorted(n for n, size in entries.items() if size is not None and fnmatchcase(n, pattern))


def run_file_names(entries: dict[str, int | None]) -> list[str]:
    """The run files (regular files matching RUN_FILES) among a folder's entries."""
    return _matching(entries, RUN_FILES)


class Worker:
    """One worker node. Subclasses supply the primitives below the line."""

    host: str

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass

    def list_files(self, directory: str, pattern: str = RUN_FILES) -> list[str]:
        """Names of the regular files directly in ``directory`` that match ``pattern``."""
        return _matching(self._entries(directory), pattern)

    def entries(self, directory: str) -> dict[str, int | None]:
        """Everything directly in ``directory``: name → size of a regular file, None else."""
        return self._entries(directory)

    def stats(self, directory: str) -> dict[str, FileStat | None]:
        """Everything directly in ``directory``: name → size and mtime of a regular file, None
        else (one listing, as ``entries``)."""
        return self._stats(directory)

    def read_file(self, path: str, max_bytes: int) -> bytes:
        """A whole file, if it holds at most ``max_bytes``."""
        data, whole = self._read_end(path, max_bytes)
        if not whole:
            raise WorkerError(f"{self.host}: {path}: larger than {max_bytes} bytes")
        return data

    def staging_is_clean(self, directory: str) -> bool:
        """True if no run file waits directly in ``directory`` (organized runs are below it)."""
        return not self.list_files(directory)

    def tail(self, path: str, lines: int = 50) -> str:
        """The last ``lines`` lines of a text file (at most TAIL_MAX bytes of it)."""
        size = TAIL_CHUNK
        while True:
            data, whole = self._read_end(path, size)
            parts = data.splitlines(keepends=True)
            if whole or len(parts) > lines or size >= TAIL_MAX:
                return b"".join(parts[-lines:] if lines > 0 else []).decode(errors="replace")
            size *= 4

    def free_fraction(self, directory: str) -> float:
        """The share of the filesystem holding ``directory`` still free (0 … 1)."""
        total, free = self._disk_space(directory)
        return free / total if total else 1.0

    def _disk_space(self, directory: str) -> tuple[int, int]:
        """Total and available bytes of the filesystem holding ``directory``."""
        raise NotImplementedError

    def tail_within(self, path: str, roots: list[str], lines: int = 50) -> str:
        """``tail`` of a regular file that, symbolic links resolved, lies in one of ``roots``
        (themselves resolved); else UnsafePath."""
        return self.tail(self._checked_within(path, roots), lines)

    def read_within(self, path: str, roots: list[str], max_bytes: int) -> bytes:
        """``read_file`` of a regular file inside one of ``roots``, as ``tail_within``."""
        return self.read_file(self._checked_within(path, roots), max_bytes)

    def _checked_within(self, path: str, roots: list[str]) -> str:
        real = self._realpath(path)
        real_roots = []
        for root in roots:
            try:
                real_roots.append(self._realpath(root))
            except WorkerError:  # a root missing on this host allows nothing
                continue
        if not any(real == r or real.startswith(r.rstrip("/") + "/") for r in real_roots):
            raise UnsafePath(f"{self.host}: {path} is outside the allowed folders")
        if not self._is_regular_file(real):
            raise UnsafePath(f"{self.host}: {path} is not a regular file")
        return real

    def organize_run(
        self, staging_directory: str, experiment_name: str, run_number: int
    ) -> OrganizeResult:
        """Move every run file from the staging directory into
        ``STAGING/EXPERIMENT/run_NNNN/``.

        No file is overwritten or lost: a file whose name is taken at the destination is
        dropped only if its contents are identical, and otherwise kept beside as NAME.dup1,
        NAME.dup2, … Each move is one rename on one filesystem, so a crash leaves every file
        either in staging or at the destination, and calling again finishes the job.
        """
        if not posixpath.isabs(staging_directory):
            raise UnsafePath(f"staging directory {staging_directory!r} must be an absolute path")
        if run_number < 0:
            raise ValueError(f"run number {run_number} must not be negative")
        check_name(experiment_name)
        staged = self._entries(staging_directory)
        dest = posixpath.join(staging_directory, experiment_name, f"run_{run_number:04d}")
        self._makedirs(dest)
        present = self._entries(dest)
        result = OrganizeResult(dest)
        for name in _matching(staged, RUN_FILES):
            src = posixpath.join(staging_directory, check_name(name, "file name"))
            n = 0
            while True:
                target = f"{name}.dup{n}" if n else name
                dst = posixpath.join(dest, target)
                if target not in present:
                    if not self._rename_new(src, dst):
                        present = self._entries(dest)  # it appeared meanwhile: look again
                        continue
                    present[target] = staged[name]
                    if n:
                        result.renamed[name] = target
                    else:
                        result.moved.append(name)
                    break
                if present[target] == staged[name] and self._same_contents(src, dst):
                    self._remove(src)
                    result.duplicates.append(name)
                    break
                n += 1
        result.files = sorted(self._entries(dest))
        return result

    def process_directory(self, name_fragment: str) -> str | None:
        """The working folder of the process whose command line contains ``name_fragment``
        (a data router writes its run files there: the original DAQ found its staging folder
        this way); None when no such process runs. Read from /proc, else with lsof."""
        status, out = self._command(["pgrep", "-f", "--", pgrep_pattern(name_fragment)])
        if status == 1:
            return None
        if status != 0:
            raise WorkerError(f"{self.host}: pgrep failed")
        folders = set()
        for pid in out.split():
            if not pid.isdigit():
                continue
            status, out = self._command(["readlink", "--", f"/proc/{pid}/cwd"])
            if status != 0 or not out.strip():
                status, out = self._command(["lsof", "-a", "-p", pid, "-d", "cwd", "-Fn"])
                out = next((line[1:] for line in out.splitlines() if line[:2] == "n/"), "")
            if out.strip():
                folders.add(out.strip())
        if len(folders) > 1:
            raise WorkerError(
                f"{self.host}: {len(folders)} {name_fragment} processes run, in "
                f"{', '.join(sorted(folders))}"
            )
        if not folders:
            raise WorkerError(f"{self.host}: cannot read the working folder of {name_fragment}")
        return folders.pop()

    # -- primitives --------------------------------------------------------------------------
    def process_running(self, name_fragment: str) -> bool:
        """True if a process whose command line contains ``name_fragment`` runs there."""
        raise NotImplementedError

    def _command(self, argv: list[str]) -> tuple[int, str]:
        """Run a command there; its exit status and output (127 when it does not exist)."""
        raise NotImplementedError

    def _entries(self, directory: str) -> dict[str, int | None]:
        """Entries directly in ``directory``: name → size for regular files, None otherwise."""
        return {n: None if s is None else s.size for n, s in self._stats(directory).items()}

    def _stats(self, directory: str) -> dict[str, FileStat | None]:
        """Entries directly in ``directory``: name → FileStat for regular files, None else."""
        raise NotImplementedError

    def _read_end(self, path: str, size: int) -> tuple[bytes, bool]:
        """The last ``size`` bytes of a file, and whether that is the whole file."""
        raise NotImplementedError

    def _makedirs(self, path: str) -> None:
        raise NotImplementedError

    def _realpath(self, path: str) -> str:
        """``path`` with every symbolic link and ``..`` resolved; it must exist."""
        raise NotImplementedError

    def _is_regular_file(self, path: str) -> bool:
        raise NotImplementedError

    def _rename_new(self, src: str, dst: str) -> bool:
        """Rename ``src`` to ``dst`` unless ``dst`` exists; return False if it does."""
        raise NotImplementedError

    def _same_contents(self, a: str, b: str) -> bool:
        raise NotImplementedError

    def _remove(self, path: str) -> None:
        raise NotImplementedError


class LocalWorker(Worker):
    """This host, through the local filesystem and processes."""

    host = "localhost"

    @contextmanager
    def _errors(self, path: str):
        try:
            yield
        except OSError as exc:
            raise WorkerError(f"{self.host}: {path}: {exc.strerror or exc}") from exc

    def process_running(self, name_fragment: str) -> bool:
        with self._errors("pgrep"):
            command = ["pgrep", "-f", "--", pgrep_pattern(name_fragment)]
            done = subprocess.run(command, capture_output=True)
        if done.returncode > 1:
            raise WorkerError(f"{self.host}: pgrep failed: {done.stderr.decode().strip()}")
        return done.returncode == 0

    def _command(self, argv):
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30)
        except FileNotFoundError:
            return 127, ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WorkerError(f"{self.host}: {argv[0]} failed: {exc}") from None
        return done.returncode, done.stdout.decode(errors="replace")

    def _stats(self, directory):
        with self._errors(directory), os.scandir(directory) as it:
            return {
                e.name: _file_stat(e.stat()) if e.is_file(follow_symlinks=False) else None
                for e in it
            }

    def _read_end(self, path, size):
        with self._errors(path), open(path, "rb") as f:
            total = f.seek(0, os.SEEK_END)
            f.seek(max(0, total - size))
            return f.read(), total <= size

    def _makedirs(self, path):
        with self._errors(path):
            os.makedirs(path, exist_ok=True)

    def _realpath(self, path):
        with self._errors(path):
            return os.path.realpath(path, strict=True)

    def _disk_space(self, directory):
        with self._errors(directory):
            st = os.statvfs(directory)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def _is_regular_file(self, path):
        with self._errors(path):
            return stat.S_ISREG(os.stat(path).st_mode)

    def _rename_new(self, src, dst):
        # A hard link never replaces an existing name, unlike rename(). OpenSSH's sftp-server
        # renames this way too, and falls back this way where there are no hard links.
        with self._errors(src):
            try:
                os.link(src, dst, follow_symlinks=False)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                if os.path.lexists(dst):
                    return False
                os.rename(src, dst)
                return True
            os.unlink(src)
            return True

    def _same_contents(self, a, b):
        with self._errors(a), open(a, "rb") as fa, open(b, "rb") as fb:
            while (block := fa.read(1 << 20)) == fb.read(1 << 20):
                if not block:
                    return True
            return False

    def _remove(self, path):
        with self._errors(path):
            os.unlink(path)


class SshWorker(Worker):
    """Another host, over one SSH connection (opened on first use) with an SFTP session.

    asyncssh runs on a private event loop in a thread of its own, so the synchronous methods
    work from Celery tasks, Django views and code that already runs an event loop alike.
    ``client_keys`` None and ``known_hosts`` () mean asyncssh's defaults (``~/.ssh``, the SSH
    agent and ``~/.ssh/config``); host keys are always verified.
    """

    def __init__(
        self,
        host: str,
        port: int = 22,
        username: str | None = None,
        client_keys: list | None = None,
        known_hosts=(),
        connect_timeout: float = 10.0,
    ):
        self.host, self.port, self.username = host, port, username
        self._options = {"known_hosts": known_hosts, "connect_timeout": connect_timeout}
        if username:
            self._options["username"] = username
        if client_keys:  # the keys named, and nothing from an SSH agent
            self._options.update(client_keys=client_keys, agent_path=None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    def close(self) -> None:
        if self._loop is None:
            return
        if self._conn is not None:
            conn = self._conn

            async def closed():  # on the connection's own loop: asyncssh is not thread-safe
                conn.close()
                await conn.wait_closed()

            asyncio.run_coroutine_threadsafe(closed(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._conn = self._sftp = None

    def _call(self, path: str, func, *args):
        """Run ``await func(*args)`` on the connection's loop; raise WorkerError on failure."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name=f"ssh-{self.host}", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(
            self._guarded(path, func, args), self._loop
        ).result()

    async def _guarded(self, path, func, args):
        import asyncssh

        where = f"{self.host}:{self.port}"
        try:
            if self._conn is None:
                self._conn = await asyncssh.connect(self.host, self.port, **self._options)
            if self._sftp is None:
                self._sftp = await self._conn.start_sftp_client()
            return await func(*args)
        except asyncssh.PermissionDenied as exc:
            raise WorkerError(f"{where}: authentication failed: {exc.reason}") from None
        except asyncssh.HostKeyNotVerifiable as exc:
            raise WorkerError(f"{where}: host key not trusted: {exc.reason}") from None
        except asyncssh.SFTPError as exc:
            raise WorkerError(f"{self.host}: {path}: {exc.reason}") from None
        except (OSError, asyncssh.Error) as exc:  # TimeoutError is an OSError
            if self._conn is not None:  # lost or unusable: the next call connects anew
                self._conn.close()
                self._conn = self._sftp = None
            raise Unreachable(f"cannot reach {where}: {_reason(exc)}") from None

    async def _run(self, command: list[str]) -> asyncssh.SSHCompletedProcess:
        return await self._conn.run(shlex.join(command), check=False)

    def process_running(self, name_fragment: str) -> bool:
        command = ["pgrep", "-f", "--", pgrep_pattern(name_fragment)]
        done = self._call("pgrep", self._run, command)
        if done.exit_status not in (0, 1):
            raise WorkerError(f"{self.host}: pgrep failed: {str(done.stderr).strip()}")
        return done.exit_status == 0

    def _command(self, argv):
        done = self._call(argv[0], self._run, argv)
        status = 255 if done.exit_status is None else done.exit_status  # None: killed
        return status, str(done.stdout or "")

    def _stats(self, directory):
        async def stats():
            import asyncssh

            return {
                n.filename: _sftp_stat(n.attrs)
                if n.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR
                else None
                for n in await self._sftp.readdir(directory)
                if n.filename not in (".", "..")
            }

        return self._call(directory, stats)

    def _read_end(self, path, size):
        async def read_end():
            async with self._sftp.open(path, "rb") as f:
                total = (await f.stat()).size
                await f.seek(max(0, total - size))
                return await f.read(), total <= size

        return self._call(path, read_end)

    def _makedirs(self, path):
        self._call(path, lambda: self._sftp.makedirs(path, exist_ok=True))

    def _realpath(self, path):
        async def realpath():
            real = await self._sftp.realpath(path)
            await self._sftp.stat(real)  # some servers resolve paths that do not exist
            return real

        return self._call(path, realpath)

    def _disk_space(self, directory):
        async def disk_space():
            st = await self._sftp.statvfs(directory)
            return st.blocks * st.frsize, st.bavail * st.frsize

        return self._call(directory, disk_space)

    def _is_regular_file(self, path):
        async def is_regular_file():
            import asyncssh

            return (await self._sftp.stat(path)).type == asyncssh.FILEXFER_TYPE_REGULAR

        return self._call(path, is_regular_file)

    def _rename_new(self, src, dst):
        # SFTP's own rename never replaces an existing name (the POSIX one would).
        async def rename_new():
            import asyncssh

            try:
                await self._sftp.rename(src, dst)
            except asyncssh.SFTPError:
                if await self._sftp.exists(dst) or await self._sftp.islink(dst):
                    return False
                raise
            return True

        return self._call(src, rename_new)

    def _same_contents(self, a, b):
        # Compare on the worker: run files are gigabytes, too many to pull over the network.
        done = self._call(a, self._run, ["cmp", "-s", "--", a, b])
        if done.exit_status not in (0, 1):
            raise WorkerError(f"{self.host}: cannot compare {a} with {b}")
        return done.exit_status == 0

    def _remove(self, path):
        self._call(path, lambda: self._sftp.remove(path))


def _file_stat(info: os.stat_result) -> FileStat:
    return FileStat(info.st_size, info.st_mtime)


def _sftp_stat(attrs: asyncssh.SFTPAttrs) -> FileStat:
    """SFTP v3 (OpenSSH's) gives whole seconds; later versions add the nanoseconds."""
    return FileStat(attrs.size, attrs.mtime + (attrs.mtime_ns or 0) / 1e9)


def _reason(exc: Exception) -> str:
    import asyncssh

    if isinstance(exc, asyncssh.Error):
        return exc.reason
    if isinstance(exc, OSError) and (exc.errno or 0) > 0:  # not "Connect call failed (…)"
        return os.strerror(exc.errno)
    return getattr(exc, "strerror", None) or str(exc) or "timed out"


def worker_for(host: str) -> Worker:
    """The worker for a host as the DAQ models name it: this host directly, others over SSH
    as settings DAQ_SSH_USER, DAQ_SSH_KEY, DAQ_SSH_KNOWN_HOSTS and DAQ_SSH_PORT say."""
    from django.conf import settings

    from beamtime.daq.safety import host_allowed

    if host.strip() and not host_allowed(host):
        raise WorkerError(f"{host.strip()} is not a host the facility allows (BEAMTIME_DAQ_HOSTS)")
    if host.strip().lower() in LOCAL_HOSTS:
        return LocalWorker()
    if not host.strip():
        raise WorkerError("no host given")
    return SshWorker(
        host.strip(),
        port=settings.DAQ_SSH_PORT,
        username=settings.DAQ_SSH_USER or None,
        client_keys=[settings.DAQ_SSH_KEY] if settings.DAQ_SSH_KEY else None,
        known_hosts=settings.DAQ_SSH_KNOWN_HOSTS or (),
        connect_timeout=settings.DAQ_ECC_TIMEOUT,
    )
