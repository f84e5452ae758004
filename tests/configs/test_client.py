"""Clients over real HTTP: the manual's Python snippet, get_fplane(), `beamtime fplane`."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from django.contrib.auth.models import Permission

from beamtime.configs.client import FplaneClientError, get_fplane
from tests.factory import make_api_key, make_history, make_report, make_unit

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)


@pytest.fixture
def server(live_server):
    make_history((T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}))
    return live_server.url


def manual_get_fplane(base, filename, datestr="", actpos=False, full=True):
    """The snippet from the FPlane manual, with only its server address changed."""
    url = base + "/fplane/" + datestr
    if actpos:
        url += "?actual_pos=1"
    else:
        url += "?actual_pos=0"
    if full:
        url += "&full_fplane=1"
    else:
        url += "&full_fplane=0"
    try:
        resp = urlopen(url)
    except HTTPError as e:
        raise Exception(  # noqa: B904  (verbatim client code)
            " Failed to retrieve fplane file, server responded with %d %s" % (e.getcode(), e.reason)  # noqa: UP031
        )
    with open(filename, "w") as f:
        f.write(resp.read().decode())


def beamtime(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "beamtime", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_manuals_snippet_works_unchanged(server, tmp_path):
    manual_get_fplane(server, tmp_path / "fplane.txt", "20180715", actpos=False, full=False)
    assert (tmp_path / "fplane.txt").read_text().splitlines()[1:] == [
        "013 -450.0 150.0 037 042 024 0.0 1.00",
        "014 -450.0 50.0 037 043 025 0.0 1.00",
    ]


def test_get_fplane_writes_what_the_server_serves(server, tmp_path, client):
    get_fplane(tmp_path / "a.txt", "20180715", actpos=True, full=True, url=server)
    served = client.get("/fplane/20180715?actual_pos=1&full_fplane=1").content.decode()
    assert (tmp_path / "a.txt").read_text() == served


def test_get_fplane_reports_the_servers_reason(server, tmp_path):
    with pytest.raises(
        FplaneClientError, match="404: no configuration before 2017-01-10T18:00:00Z"
    ):
        get_fplane(tmp_path / "a.txt", "20160101", url=server)
    assert not (tmp_path / "a.txt").exists()


def test_the_cli_names_files_as_get_fplane_sh_does(server, tmp_path):
    result = beamtime("fplane", "get", "20180715", "--url", server, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "fplane20180715.txt").read_text().splitlines()) == 85
    result = beamtime(
        "fplane", "get", "20180715T03:04:05", "-s", "-p", "--url", server, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "fplane20180715T03:04:05.txt").read_text().splitlines()) == 3
    beamtime("fplane", "get", "-o", "fplane.txt", "--url", server, cwd=tmp_path)
    assert (tmp_path / "fplane.txt").exists()


def test_the_cli_reports_errors_in_one_line(server, tmp_path):
    result = beamtime("fplane", "get", "not-a-date", "--url", server, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == "beamtime fplane: the server responded with 400: cannot read the date 'not-a-date': "
        "use YYYYMMDD, YYYYMMDDTHH:MM:SS, ISO 8601 (2018-07-15T03:00:00Z) or latest\n"
    )
    result = beamtime("fplane", "get", "--url", "http://127.0.0.1:1", cwd=tmp_path)
    assert result.returncode == 1 and "cannot reach" in result.stderr


def test_the_cli_updates_with_a_key(server, tmp_path, alice):
    alice.user_permissions.add(
        Permission.objects.get(codename="add_change", content_type__app_label="configs")
    )
    _, key = make_api_key(alice, scopes=["read", "write:fplane"])
    report = tmp_path / "status.json"
    report.write_text(
        json.dumps(
            make_report(
                {"013": {"type": "VIRUS", "ifuid": "031", "specid": "037", "specslot": "042"}}
            )
        )
    )
    dry = beamtime("fplane", "update", str(report), "--url", server, "--key", key, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("## dry run")
    done = beamtime(
        "fplane",
        "update",
        str(report),
        "--commit",
        "--url",
        server,
        cwd=tmp_path,
        env={**os.environ, "BEAMTIME_API_KEY": key},
    )
    assert done.returncode == 0, done.stderr
    assert "## committed as change" in done.stdout
    assert "013 -450.0 150.0 037 042 031 0.0 1.00" in done.stdout


def test_the_cli_update_needs_a_key_and_a_readable_report(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BEAMTIME_API_KEY"}
    result = beamtime("fplane", "update", "status.json", "--url", server, cwd=tmp_path, env=env)
    assert result.returncode == 2 and "an API key is needed" in result.stderr
    (tmp_path / "bad.json").write_text("{oops")
    result = beamtime("fplane", "update", "bad.json", "--key", "k", "--url", server, cwd=tmp_path)
    assert result.returncode == 2 and "cannot read bad.json" in result.stderr


def test_the_cli_imports_files_and_the_manuals_snippet_reads_them_back(live_server, tmp_path):
    from tests.factory import hetdex, make_user

    hetdex()
    ops = make_user("ops", is_staff=True)
    _, key = make_api_key(ops, scopes=["read", "write:fplane"])
    first = "##IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC\n" + "\n".join(
        [
            "073 150.0 150.0 004 136 023 0.0 1.00",
            "103 450.0 150.0 020 158 004 0.0 1.00",
        ]
    )
    (tmp_path / "fplane20180715.txt").write_text(first + "\n")
    (tmp_path / "fplane20190101T12:00:00.txt").write_text(first.replace(" 023 ", " 025 ") + "\n")
    names = ["fplane20180715.txt", "fplane20190101T12:00:00.txt"]
    done = beamtime(
        "fplane", "import", *names, "--url", live_server.url, "--key", key, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(
        "fplane20180715.txt  from 2018-07-16T05:00:00Z  change "
    )
    assert "1 slot(s) changed (073)" in done.stdout.splitlines()[1]
    again = beamtime(
        "fplane", "import", *names, "--url", live_server.url, "--key", key, cwd=tmp_path
    )
    assert again.stdout.count("unchanged") == 2
    manual_get_fplane(live_server.url, tmp_path / "back.txt", "20180715", full=False)
    assert (tmp_path / "back.txt").read_text() == first + "\n"
    (tmp_path / "bad.txt").write_text(first + "\nxyz\n")
    refused = beamtime(
        "fplane",
        "import",
        "bad.txt",
        "--start",
        "20200101",
        "--url",
        live_server.url,
        "--key",
        key,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "beamtime fplane: the server responded with 400: bad.txt line 4: expected 8 columns "
        "(IFUSLOT X_FP Y_FP SPECID SPECSLOT IFUID IFUROT PLATESC), found 1\n"
    )


@pytest.mark.parametrize(
    "run",
    [
        # Debian's own Python, isolated (-I) and without site-packages (-S): the standard
        # library only, no Beamtime.
        lambda script, args: ["/usr/bin/python3", "-I", "-S", str(script), *args],
        lambda script, args: ["/bin/sh", str(script), *args],
    ],
    ids=["get_fplane.py", "get_fplane.sh"],
)
def test_the_downloaded_clients_do_what_get_fplane_sh_does(server, tmp_path, run, request):
    name = request.node.callspec.id
    script = tmp_path / name
    with urlopen(f"{server}/fplane/{name}") as response:  # no login
        script.write_bytes(response.read())
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": os.environ["PATH"]}

    def client(*args):
        return subprocess.run(
            run(script, args), cwd=work, capture_output=True, text=True, timeout=60, env=env
        )

    def served(path):
        with urlopen(f"{server}{path}") as response:
            return response.read().decode()

    assert client("20180715").returncode == 0
    assert (work / "fplane20180715.txt").read_text() == served(
        "/fplane/20180715?actual_pos=0&full_fplane=1"
    )
    done = client("20180715T03:04:05", "-s", "-p")
    assert done.returncode == 0, done.stderr
    assert (work / "fplane20180715T03:04:05.txt").read_text() == served(
        "/fplane/20180715T03:04:05?actual_pos=1&full_fplane=0"
    )
    assert client("-o", "fplane.txt").returncode == 0
    assert (work / "fplane.txt").read_text() == served("/fplane/")
    assert client().returncode == 0  # now, named after tonight at the site
    (tonight,) = [
        p.name
        for p in work.glob("fplane2*.txt")
        if len(p.name) == len("fplane20180715.txt") and p.name != "fplane20180715.txt"
    ]
    assert (work / tonight).read_text() == served("/fplane/")
    refused = client("20160101")
    assert refused.returncode == 1
    assert "404" in refused.stderr and "no configuration before 2017-01-10T18:00:00Z" in (
        refused.stderr
    )


def test_the_demo_history_imported_as_files_reads_back_the_same_through_both_clients(
    live_server, tmp_path
):
    """The issue's "done": the demo's history goes out as files, comes back in through
    `beamtime fplane import`, and the manual's snippet and the downloaded client read the
    same files as before."""
    import io

    from django.core.management import call_command

    from beamtime.configs.models import Change, ConfigEntry
    from tests.factory import hetdex, make_user

    hetdex()
    call_command("load_demo", stdout=io.StringIO())
    stamps = [f"{c.valid_from:%Y%m%dT%H:%M:%S}" for c in hetdex().changes.order_by("valid_from")]
    before, after, files = tmp_path / "before", tmp_path / "after", tmp_path / "files"
    for folder in (before, after, files):
        folder.mkdir()
    for stamp in stamps:
        manual_get_fplane(live_server.url, files / f"fplane{stamp}.txt", stamp, actpos=True)
        manual_get_fplane(live_server.url, before / f"{stamp}-nominal.txt", stamp)
    ConfigEntry.objects.all().delete()
    Change.objects.all().delete()

    _, key = make_api_key(make_user("ops", is_staff=True), scopes=["read", "write:fplane"])
    names = sorted(p.name for p in files.iterdir())
    done = beamtime("fplane", "import", *names, "--url", live_server.url, "--key", key, cwd=files)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(stamps) and "unchanged" not in done.stdout

    with urlopen(f"{live_server.url}/fplane/get_fplane.py") as response:
        (tmp_path / "get_fplane.py").write_bytes(response.read())
    for stamp in stamps:
        manual_get_fplane(live_server.url, after / f"{stamp}-nominal.txt", stamp)
        assert (after / f"{stamp}-nominal.txt").read_text() == (
            before / f"{stamp}-nominal.txt"
        ).read_text()
        got = subprocess.run(
            ["/usr/bin/python3", "-I", "-S", str(tmp_path / "get_fplane.py"), stamp, "-p"],
            cwd=after,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert got.returncode == 0, got.stderr
        assert (after / f"fplane{stamp}.txt").read_text() == (
            files / f"fplane{stamp}.txt"
        ).read_text()


def test_the_cli_imports_a_long_history_in_batches_a_request_may_carry(live_server, tmp_path):
    from beamtime.configs import store
    from beamtime.configs.client import MAX_FILES
    from tests.configs.test_import import history_files
    from tests.factory import hetdex, make_user

    hetdex()
    _, key = make_api_key(make_user("ops", is_staff=True), scopes=["read", "write:fplane"])
    files = history_files(MAX_FILES * 2 + 1)
    for file in files:
        (tmp_path / file["name"]).write_text(file["text"])
    names = [f["name"] for f in files][::-1]
    import beamtime as package  # this code, not another checkout's

    here = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(package.__file__))}
    done = beamtime(
        "fplane", "import", *names, "--url", live_server.url, "--key", key, cwd=tmp_path, env=here
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" change ") == MAX_FILES * 2 + 1
    latest = store.configuration_at(hetdex(), store.latest_start(hetdex()))
    assert latest["073"].attributes["ifuid"] == str(MAX_FILES * 2 + 100)
