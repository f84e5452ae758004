"""Run control at scale: 200 simulated ECC servers (one `beamtime ecc-sim --count 200`
process), each taking 0.5 s per transition, driven by `beamtime serve` (its Celery worker).

Times, from the API call until the status API shows every server there and the control
free again: Describe all, Prepare all, Configure all, Start all; then Stop all with 10 % of
the servers offline — half refusing connections (`go-offline`), half leaving them
unanswered like hosts off the network (`go-silent`) — until every reachable server is
Ready. Goal (issue 12): < 2 s each. Also prints the CPU seconds the simulator process and
Beamtime's processes used meanwhile: on a busy machine the time is that of waiting for CPU.

    .venv/bin/python bench/daq_scale.py [--servers 200] [--delay 0.5] [--offline 0.1]
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from serve import machine, start_serve  # noqa: E402

from beamtime.daq.ecc.client import EccClient  # noqa: E402
from daq import SETUP, Api, beamtime  # noqa: E402

GOAL = 2.0


def cpu_seconds(*roots: int) -> float:
    """CPU seconds used so far by these processes and all their descendants."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        family.add(pid)
        todo += [p for p, (parent, _) in stats.items() if parent == pid and p not in family]
    return sum(stats[p][1] for p in family if p in stats) / os.sysconf("SC_CLK_TCK")


def wait_for(api: Api, done, what: str, timeout: float = 120) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status = api.call("api/daq/status")
        if done(status):
            return status
        time.sleep(0.1)  # the status page polls every 3 s; faster polls would steal CPU
    sys.exit(f"{what}: not within {timeout} s")


def all_in(state: str, servers=None, free=True):
    def done(status):
        if free and status["transition"]:
            return False
        rows = status["individual_results"]
        if servers is not None:
            rows = [s for s in rows if s["name"] in servers]
        return all(s["state_name"] == state and not s["transitioning"] for s in rows)

    return done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--offline", type=float, default=0.1, help="fraction offline at Stop")
    args = parser.parse_args()
    print(
        machine(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", f"load average {os.getloadavg()[0]:.1f}")
    )
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
        home, configs = Path(tmp) / "var", Path(tmp) / "configs"
        configs.mkdir()
        for name in ("describe-cobo", "prepare-p", "configure-c"):
            (configs / f"{name}.xcfg").write_text("<Setup/>")
        port = 24000
        beamtime(home, "manage", "migrate", "-v0")
        setup = SETUP.format(servers=args.servers, port=port).replace(":02d", ":03d")
        key = beamtime(home, "manage", "shell", "--no-imports", "-c", setup)
        key = key.strip().splitlines()[-1]
        sims = beamtime(
            home,
            "ecc-sim",
            "--port",
            str(port),
            "--count",
            str(args.servers),
            "--configs",
            str(configs),
            "--delay",
            str(args.delay),
            background=True,
        )
        proc = None
        results = []
        try:
            proc, url, _ = start_serve(home)
            api = Api(url, key)
            print(f"{args.servers} ECC servers, {args.delay} s per transition (goal < {GOAL} s):")
            for action, state in [
                ("describe", "Described"),
                ("prepare", "Prepared"),
                ("configure", "Ready"),
                ("start", "Running"),
            ]:
                c0, s0, t0 = cpu_seconds(sims.pid), cpu_seconds(proc.pid), time.monotonic()
                api.call(f"api/daq/actions/{action}", "POST")
                status = wait_for(api, all_in(state), f"{action} all")
                errors = [s for s in status["individual_results"] if s["error_message"]]
                if errors:
                    sys.exit(f"{action} all: {len(errors)} errors, e.g. {errors[0]}")
                results.append(
                    (
                        f"{action} all",
                        time.monotonic() - t0,
                        cpu_seconds(sims.pid) - c0,
                        cpu_seconds(proc.pid) - s0,
                    )
                )

            step = round(1 / args.offline)
            offline = list(range(0, args.servers, step))
            for n, i in enumerate(offline):
                command = "go-silent" if n % 2 else "go-offline"
                EccClient(f"http://127.0.0.1:{port + i}/").special(command)
            names = {f"ecc{i:03d}" for i in offline}
            reachable = {f"ecc{i:03d}" for i in range(args.servers)} - names

            # The operator sees them offline (the next state refresh), then presses Stop.
            def shown_offline(status):
                rows = status["individual_results"]
                return all(not r["online"] for r in rows if r["name"] in names)

            wait_for(api, shown_offline, "the offline servers shown offline")
            c0, s0, t0 = cpu_seconds(sims.pid), cpu_seconds(proc.pid), time.monotonic()
            api.call("api/daq/actions/stop", "POST")
            wait_for(api, all_in("Ready", reachable, free=False), "stop all")
            stopped = time.monotonic() - t0
            status = wait_for(api, all_in("Ready", reachable), "stop all")
            label = f"stop all, {len(offline)} offline"
            results.append(
                (
                    label,
                    time.monotonic() - t0,
                    cpu_seconds(sims.pid) - c0,
                    cpu_seconds(proc.pid) - s0,
                )
            )
            logged = {
                e["source"] for e in status["log_entries"] if e["message"].startswith("not reached")
            }
            print(
                "  (CPU s: used meanwhile by the simulator process / by beamtime serve's processes)"
            )
            for label, seconds, sim_cpu, site_cpu in results:
                verdict = "meets" if seconds < GOAL else "MISSES"
                print(
                    f"  {label:<22} {seconds:5.2f} s  {verdict} the goal   "
                    f"(CPU s: {sim_cpu:4.2f} / {site_cpu:4.2f})"
                )
            print(f"  (stop all: the reachable servers were all Ready after {stopped:.2f} s)")
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
            print(
                f"  after Stop all: {len(reachable)} reachable servers Ready; "
                f"{len(logged & names)} of {len(names)} offline servers logged as not reached"
            )
        finally:
            if proc:
                proc.terminate()
                proc.wait()
            sims.terminate()
            sims.wait()


if __name__ == "__main__":
    main()
