"""Queue split and health figures of a real `beamtime serve` (issue 14):

- /healthz latency, 200 requests one after the other (each web process answers from a
  5-s cache, computing afresh with a ping that returns at the first worker's reply);
- how long a DAQ task waits before a worker takes it, with 0 and with 2 DREAM fits running
  (the fits have a pool of their own).

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
from beamtime.daq import tasks
from beamtime.fitting import jobs
from beamtime.fitting.layers import LayerModel
from beamtime.fitting.models import Dataset, FitJob
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER

def send(label):
    for _ in range(5):
        sent = time.time()
        print("SENT", label, tasks.refresh_state_all.delay().id, sent, flush=True)
        time.sleep(1)

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
"""


def main():
    home = Path(tempfile.mkdtemp(prefix="bt-bench-")) / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEAMTIME_")}
    env.update(BEAMTIME_HOME=str(home), BEAMTIME_FIT_WORKERS="2")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    serve = subprocess.Popen(
        [sys.executable, "-m", "beamtime", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_green(url, serve)
        times = []
        for _ in range(200):
            start = time.perf_counter()
            urllib.request.urlopen(url + "healthz", timeout=10).read()
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(
            f"/healthz: median {statistics.median(times):.1f} ms, p95 {times[189]:.1f} ms, "
            f"max {times[-1]:.1f} ms"
        )

        out = subprocess.run(
            [sys.executable, "-m", "beamtime", "manage", "shell", "--no-imports", "-c", SENDS],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
        log = (home / "logs" / "daq-worker.log").read_text()
        waits = {}
        for label, task_id, sent in re.findall(r"SENT (\d fits) (\S+) ([\d.]+)", out):
            match = re.search(rf"(\S+ \S+) INFO \S+: Task \S+\[{task_id}\] received", log)
            got = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
            waits.setdefault(label, []).append((got.timestamp() - float(sent)) * 1000)
        for label, values in waits.items():
            print(
                f"DAQ task taken by a worker, {label} running: median "
                f"{statistics.median(values):.0f} ms, max {max(values):.0f} ms"
            )
    finally:
        serve.terminate()
        serve.wait(60)


if __name__ == "__main__":
    main()
