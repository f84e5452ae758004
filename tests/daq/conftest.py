import pytest


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
    import asyncio
    import getpass
    import socket
    import threading

    import asyncssh

    from tests.daq.test_workers import run_in_shell

    host = "127.0.0.2"
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(tmp_path / "id_ed25519")
    (tmp_path / "known_hosts").write_text(
        f"[{host}]:{port} {host_key.export_public_key().decode()}"
    )
    settings.DAQ_SSH_USER = getpass.getuser()
    settings.DAQ_SSH_KEY = str(tmp_path / "id_ed25519")
    settings.DAQ_SSH_KNOWN_HOSTS = str(tmp_path / "known_hosts")
    settings.DAQ_SSH_PORT = port
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def listen():
        return await asyncssh.listen(
            host,
            port,
            server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                client_key.export_public_key().decode()
            ),
            sftp_factory=True,
            process_factory=run_in_shell,
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(30)
    try:
        yield host
    finally:
        acceptor.close()
        asyncio.run_coroutine_threadsafe(acceptor.wait_closed(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
