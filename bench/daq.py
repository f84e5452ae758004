"""Run-control figures with 50 simulated ECC servers, each taking 0.5 s per transition:
the time from pressing "Describe all" (and Prepare, Configure) until the status API shows
every server there — beside the time a serial client needs, 50 × one server's time — and
the latency of the status API, beside a static file server serving the same JSON.

    .venv/bin/python bench/daq.py [--servers 50] [--delay 0.5] [--requests 200]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package; share serve.py
from serve import free_port, machine, start_serve, static_server  # noqa: E402

SETUP = """
from django.contrib.auth import get_user_model
from beamtime.core.models import ApiKey
from beamtime.daq.models import ConfigId, ECCServer, Experiment
user = get_user_model().objects.create_user("bench")
experiment = Experiment.objects.create(name="bench", is_active=True)
experiment.members.add(user)
for i in range({servers}):
    server = ECCServer.objects.create(
        experiment=experiment, name=f"ecc{{i:02d}}", ip_address="127.0.0.1", port={port} + i,
        is_online=True)
    server.selected_config = ConfigId.objects.create(
        ecc_server=server, describe="cobo", prepare="p", configure="c")
    server.save()
print(ApiKey.issue(user, "bench")[1])
"""


def beamtime(home: Path, *args: str, **kwargs) -> subprocess.Popen | str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMTIME_")}
    env.update(BEAMTIME_HOME=str(home), DJANGO_SETTINGS_MODULE="beamtime.settings")
    argv = [sys.executable, "-m", "beamtime", *args]
    if kwargs.get("background"):
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout


class Api:
    def __init__(self, url: str, key: str):
        self.url, self.headers = url, {"Authorization": f"Bearer {key}"}

    def call(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(self.url + path, headers=self.headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            sys.exit(f"{method} {path}: {exc.code} {exc.read().decode()[:500]}")


def time_transition(api: Api, action: str, state: str, timeout: float = 120) -> float:
    t0 = time.monotonic()
    api.call(f"api/daq/actions/{action}", "POST")
    while time.monotonic() - t0 < timeout:
        status = api.call("api/daq/status")
        servers = status["individual_results"]
        if not status["transition"] and all(
            s["state_name"] == state and not s["transitioning"] for s in servers
        ):
            return time.monotonic() - t0
        time.sleep(0.05)
    sys.exit(f"{action} all did not reach {state} within {timeout} s")


def latencies(url: str, headers: dict, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            r.read()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        home, configs = Path(tmp) / "var", Path(tmp) / "configs"
        configs.mkdir()
        for name in ("describe-cobo", "prepare-p", "configure-c"):
            (configs / f"{name}.xcfg").write_text("<Setup/>")
        sim_port = free_port() if args.servers == 1 else 21000
        beamtime(home, "manage", "migrate", "-v0")
        key = (
            beamtime(
                home,
                "manage",
                "shell",
                "--no-imports",
                "-c",
                SETUP.format(servers=args.servers, port=sim_port),
            )
            .strip()
            .splitlines()[-1]
        )
        sims = beamtime(
            home,
            "ecc-sim",
            "--port",
            str(sim_port),
            "--count",
            str(args.servers),
            "--configs",
            str(configs),
            "--delay",
            str(args.delay),
            background=True,
        )
        proc = None
        try:
            proc, url, _ = start_serve(home)
            api = Api(url, key)
            times = {
                a: time_transition(api, a, s)
                for a, s in [
                    ("describe", "Described"),
                    ("prepare", "Prepared"),
                    ("configure", "Ready"),
                ]
            }
            serial = args.servers * args.delay
            print(f"{args.servers} ECC servers, {args.delay} s per transition:")
            for action, seconds in times.items():
                print(
                    f"  {action} all -> everywhere: {seconds:5.2f} s   (goal < 1.5 s; "
                    f"serial client ≥ {serial:.0f} s, ratio {seconds / serial:.3f})"
                )

            site = latencies(url + "api/daq/status", api.headers, args.requests)
            static_dir = Path(tmp) / "static"
            static_dir.mkdir()
            (static_dir / "status.json").write_text(json.dumps(api.call("api/daq/status")))
            with static_server(static_dir) as anchor_url:
                anchor = latencies(anchor_url + "status.json", {}, args.requests)
            p50, anchor_p50 = statistics.median(site), statistics.median(anchor)
            print(f"status API, {args.servers} servers, {args.requests} requests:")
            print(
                f"  beamtime:                 p50 {p50:6.1f} ms  "
                f"p99 {site[int(0.99 * len(site)) - 1]:6.1f} ms"
                "  (goal p50 < 100 ms)"
            )
            print(
                f"  http.server, same JSON:   p50 {anchor_p50:6.1f} ms  p99 "
                f"{anchor[int(0.99 * len(anchor)) - 1]:6.1f} ms   ratio {p50 / anchor_p50:.1f}"
            )
        finally:
            if proc:
                proc.terminate()
                proc.wait()
            sims.terminate()
            sims.wait()


if __name__ == "__main__":
    main()
