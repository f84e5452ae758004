"""A real SSH server on loopback (asyncssh, with SFTP and a shell) standing in for a data
router's host, and the settings that make Beamtime reach it."""

import asyncio
import getpass
import subprocess
import threading
from pathlib import Path

import asyncssh

from tests.conftest import free_port


async def run_in_shell(process: asyncssh.SSHServerProcess):
    """Run the requested command with this host's shell, as sshd would."""
    proc = await asyncio.create_subprocess_shell(
        process.command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    process.stdout.write(out.decode(errors="replace"))
    process.stderr.write(err.decode(errors="replace"))
    process.exit(proc.returncode)


class LoopbackSshServer:
    """An SSH server on ``host`` (e.g. 127.0.0.2, which Beamtime reaches over SSH rather than
    directly) that accepts one client key and counts the connections it accepts. Its keys and
    known_hosts are written to ``folder``; ``start()`` and ``stop()`` may be called again, as
    when a host goes down and comes back."""

    def __init__(self, folder: Path, host: str = "127.0.0.2"):
        self.host, self.port = host, free_port(host)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.key_file = folder / "id_ed25519"
        self.client_key.write_private_key(self.key_file)
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text(
            f"[{host}]:{self.port} {self.host_key.export_public_key().decode()}"
        )
        self.accepted: list = []
        self._loop = self._thread = self._acceptor = None

    def configure(self, settings) -> None:
        """Point Beamtime's DAQ SSH settings at this server."""
        settings.DAQ_SSH_USER = getpass.getuser()
        settings.DAQ_SSH_KEY = str(self.key_file)
        settings.DAQ_SSH_KNOWN_HOSTS = str(self.known_hosts)
        settings.DAQ_SSH_PORT = self.port

    def start(self) -> None:
        accepted = self.accepted

        class Counting(asyncssh.SSHServer):
            def connection_made(self, conn):
                accepted.append(conn)

        async def listen():  # asyncssh.listen returns an awaitable, not a coroutine
            return await asyncssh.listen(
                self.host,
                self.port,
                server_factory=Counting,
                server_host_keys=[self.host_key],
                authorized_client_keys=asyncssh.import_authorized_keys(
                    self.client_key.export_public_key().decode()
                ),
                sftp_factory=True,
                process_factory=run_in_shell,
            )

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(30)

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close():  # on the loop's thread: asyncio's server is not thread-safe (a
            # close from this thread raced a closing connection's wake-up: a TypeError)
            self._acceptor.close()
            await self._acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = self._acceptor = None
