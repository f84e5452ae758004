"""Queue split and health figures of a real `beamtime serve` (issue 14):

- /healthz latency: 10 requests at once after start-up (each web process's first answer),
  then a poll every 50 ms for 15 s (each web process answers from a 5-s cache, computing
  afresh with a ping that returns at the first worker's reply);
- how long a run-control transition (Describe all, Reset all on the demo's eleven simulated
  ECC servers) waits before the daq worker takes it, and until every server is there, with 0
  and with 2 DREAM fits running (the fits have a pool of their own).

    .venv/bin/python bench/queues.py

Run from the repository root (it uses the fitting tests' data) on an otherwise idle machine.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serve import free_port, wait_green  # noqa: E402

SENDS = """
import time
from django.contrib.auth import get_user_model
from beamtime.daq import actions
from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ECCServer, Experiment
from beamtime.fitting import jobs
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitJob
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER

experiment = Experiment.objects.get(name="demo")
scientist = get_user_model().objects.get(username="scientist")
servers = ECCServer.objects.filter(experiment=experiment, is_online=True)

def settle(state):
    while servers.filter(state=state).count() < 11 or Experiment.objects.get(
        pk=experiment.pk
    ).transition:
        time.sleep(0.1)

def send(label):
    for action, state in [("describe", State.DESCRIBED), ("reset", State.IDLE)] * 3:
        sent = time.time()
        actions.global_action(experiment, action, scientist)
        print("SENT", label, sent, flush=True)
        settle(state)
        print("DONE", label, time.time() - sent, flush=True)
        time.sleep(0.5)

settle(State.IDLE)
send("0 fits")
user = get_user_model().objects.create_user("bench")
data = Dataset.objects.create(owner=user, name="d.txt", content=DOUBLE_LAYER.decode(), points=300)
for _ in range(2):
    jobs.submit(user, data, LayerModel.from_dict(session_model()), "dream",
                {"samples": 1000000, "burn": 100000})
while FitJob.objects.filter(state="running").count() < 2:
    time.sleep(0.2)
time.sleep(2)
send("2 fits")
print("fits still running:", FitJob.objects.filter(state="running").count())
"""


def main():
    home = Path(tempfile.mkdtemp(prefix="bt-bench-")) / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMTIME_")}
    env.update(BEAMTIME_HOME=str(home), BEAMTIME_FIT_WORKERS="2")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    serve = subprocess.Popen(
        [sys.executable, "-m", "beamtime", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_green(url, serve)

        def healthz() -> float:
            start = time.perf_counter()
            urllib.request.urlopen(url + "healthz", timeout=10).read()
            return (time.perf_counter() - start) * 1000

        first = [healthz() for _ in range(10)]  # each web process's first, cold answer
        # then a poll every 50 ms for 15 s: each web process computes afresh every 5 s
        times = []
        for _ in range(300):
            times.append(healthz())
            time.sleep(0.05)
        times.sort()
        print(
            f"/healthz, first 10: max {max(first):.1f} ms; then 300 polls 50 ms apart: median "
            f"{statistics.median(times):.1f} ms, p95 {times[284]:.1f} ms, max {times[-1]:.1f} ms, "
            f"{sum(t > 50 for t in times)} over 50 ms"
        )

        out = subprocess.run(
            [sys.executable, "-m", "beamtime", "manage", "shell", "--no-imports", "-c", SENDS],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
        print(out.splitlines()[-1])
        log = (home / "logs" / "daq-worker.log").read_text()
        taken = [
            datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()
            for stamp in re.findall(
                r"(\S+ \S+) INFO \S+: Task beamtime.daq.tasks.transition\[\S+\] received", log
            )
        ]
        sends = re.findall(r"SENT (\d fits) ([\d.]+)", out)
        assert len(taken) == len(sends), (len(taken), len(sends))  # one transition at a time
        waits, done = {}, {}
        for (label, sent), got in zip(sends, taken, strict=True):
            waits.setdefault(label, []).append((got - float(sent)) * 1000)
        for label, seconds in re.findall(r"DONE (\d fits) ([\d.]+)", out):
            done.setdefault(label, []).append(float(seconds))
        for label, values in waits.items():
            print(
                f"transition (Describe all / Reset all, 11 servers) taken by the daq worker, "
                f"{label} running: median {statistics.median(values):.0f} ms, "
                f"max {max(values):.0f} ms; all servers there: median "
                f"{statistics.median(done[label]):.2f} s, max {max(done[label]):.2f} s"
            )
    finally:
        serve.terminate()
        serve.wait(60)


if __name__ == "__main__":
    main()
