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
