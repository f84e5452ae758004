"""Platform figures: time from `beamtime serve` to an all-green /healthz (first and second
start), and static-file throughput of the site beside a plain static file server
(`python -m http.server`) serving the same file.

    .venv/bin/python bench/serve.py [--requests 200]

Run it on an otherwise idle machine; it prints one line per figure and the ratio.
"""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

PLOTLY = "vendor/plotly.js-dist-min/plotly.min.js"


def machine(*facts: str) -> str:
    """The line each bench prints first: the host, its cores, Python, then ``facts``."""
    return ", ".join(
        [
            f"machine: {platform.node()} {platform.machine()}",
            f"{os.cpu_count()} cores",
            f"Python {platform.python_version()}",
            *facts,
        ]
    )


def setup_django(home: Path) -> None:
    """Django on a fresh database in ``home``, migrated, in this process."""
    for key in [k for k in os.environ if k.startswith("BEAMTIME_")]:
        del os.environ[key]
    os.environ.update(BEAMTIME_HOME=str(home), DJANGO_SETTINGS_MODULE="beamtime.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_green(url: str, proc, timeout=120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            sys.exit(f"serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=5) as r:
                if json.load(r)["ok"]:
                    return time.monotonic()
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    sys.exit("serve did not turn green")


@contextmanager
def static_server(directory: Path):
    """The anchor: ``python -m http.server`` on loopback serving ``directory``; yields its URL.

    It speaks HTTP/1.0, a connection per request: with HTTP/1.1 keep-alive its separate header
    and body writes meet Nagle and delayed ACKs, 44 ms a request."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(30)


def start_serve(home: Path, settings_module: str = "beamtime.settings", **settings: str):
    """``beamtime serve`` on a free port with a home of its own and BEAMTIME_<settings>; a
    settings module other than Beamtime's is looked for in bench/ too."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMTIME_")}
    env.update(BEAMTIME_HOME=str(home), DJANGO_SETTINGS_MODULE=settings_module)
    if settings_module != "beamtime.settings":
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")])
        )
    env.update({f"BEAMTIME_{name}": value for name, value in settings.items()})
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamtime", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        return proc, url, wait_green(url, proc) - t0
    except BaseException:  # never leave a server behind
        stop(proc)
        raise


def stop(proc, timeout: float = 120) -> None:
    """Ask a server to stop; kill it if it has not within ``timeout`` (a loaded machine)."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def throughput(url: str, requests: int, clients: int = 4) -> float:
    def fetch(_):
        with urllib.request.urlopen(url, timeout=30) as r:
            return len(r.read())

    fetch(0)
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(fetch, range(requests)))
    return total / (time.monotonic() - t0) / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(machine())

    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        home = Path(tmp) / "var"
        proc, url, first = start_serve(home)
        proc.terminate()
        proc.wait()
        proc, url, second = start_serve(home)
        print(f"serve -> healthz green, first start (migrations): {first:6.1f} s   (limit 60 s)")
        print(f"serve -> healthz green, later start:              {second:6.1f} s")
        try:
            manifest = json.loads((home / "static" / "staticfiles.json").read_text())["paths"]
            site = throughput(url + "static/" + manifest[PLOTLY], args.requests)
            with static_server(home / "static") as anchor_url:
                anchor = throughput(anchor_url + PLOTLY, args.requests)
            print(f"static file ({PLOTLY}, {args.requests} requests, 4 clients):")
            print(f"  beamtime (gunicorn + whitenoise): {site:7.1f} MB/s")
            print(
                f"  python -m http.server (anchor):   {anchor:7.1f} MB/s"
                f"   ratio {site / anchor:.2f}"
            )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
