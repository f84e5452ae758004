import socket

import pytest

from tests.sshd import LoopbackSshServer


@pytest.fixture(autouse=True)
def facility_networks(settings):
    """The facility of these tests runs its DAQ on 10/8 and 192.168/16 besides this host;
    tests of the default (loopback only) set DAQ_HOSTS themselves."""
    settings.DAQ_HOSTS = ["127.0.0.0/8", "::1/128", "localhost", "10.0.0.0/8", "192.168.0.0/16"]
    settings.DAQ_LOG_ROOTS = {}
    settings.DAQ_CONFIG_ROOTS = {}


@pytest.fixture
def ssh_host(settings, tmp_path):
    """127.0.0.2 as another host: an SSH server on loopback (SFTP and a shell) that the DAQ
    reaches with its own key, as settings DAQ_SSH_* say."""
    server = LoopbackSshServer(tmp_path, "127.0.0.2")
    server.configure(settings)
    server.start()
    yield server.host
    server.stop()


@pytest.fixture
def stalled_hosts(settings):
    """stalled_hosts(n) → 127.0.0.2, 127.0.0.3, …: n router hosts that take SSH connections
    and never answer (as a hung host does), each costing the full timeout, set to 2 s."""
    import asyncssh  # noqa: F401  (imported once before the clock starts)

    listeners = []

    def start(n: int) -> list[str]:
        hosts = [f"127.0.0.{i}" for i in range(2, n + 2)]
        for host in hosts:
            listener = socket.socket()
            listener.bind((host, listeners[0].getsockname()[1] if listeners else 0))
            listener.listen(8)
            listeners.append(listener)
        settings.DAQ_SSH_PORT = listeners[0].getsockname()[1]
        settings.DAQ_ECC_TIMEOUT = 2.0
        return hosts

    yield start
    for listener in listeners:
        listener.close()
