"""DREAM in Beamtime beside bumps' own DREAM on the same problem, in one process: the manual
session's model (A = 500 in 400–600, B = 40 in 30–50) on double_layer.txt, samples 10000,
burn 100 (bench/fitting.py's figures), each way seeded alike and interleaved so that drift
hits all three alike:

- bumps: ``bumps.fitters.fit(problem, method="dream", …)`` on the adapter's refl1d problem;
- adapter: ``refl1d_adapter.fit(model, data, "dream", …)``, Beamtime's fit path with its
  progress monitor and the posterior it keeps (bumps' statistics, R̂, the draws bounded to
  10 000, the SLD bands of 200 draws);
- job: ``jobs.run`` on a queued FitJob in a Django process on SQLite (a temporary
  BEAMTIME_HOME): loading the job and data set, the fit, storing the draws and the result.

Each fit is timed by the wall clock and by this process's CPU time (time.process_time: less
sensitive to other processes sharing the cores; the fit is single-threaded), and so is the
part of it inside bumps' sampler (FitDriver.fit), the same work all three ways (the same
seed, the same number of model evaluations). What a way spends outside the sampler is its
own cost; beside bumps' own, as a share of bumps' whole fit, it is the overhead least
disturbed by a busy machine.

Goal (issue 15): DREAM within 5 % of bumps in-process on the same problem.

    PYTHONPATH=src .venv/bin/python bench/dream_speed.py [--runs 5] [--seed 1]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from fitting import DATA, DREAM, MODEL  # noqa: E402


class Timer:
    """Wall-clock and CPU seconds of a block: ``with Timer() as t: …; t.times``."""

    def __enter__(self):
        self.start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.times = (time.perf_counter() - self.start[0], time.process_time() - self.start[1])


def django_job_runner(home: str):
    """A function that queues the DREAM fit as a FitJob and runs it as a worker does."""
    os.environ["BEAMTIME_HOME"] = home
    os.environ["DJANGO_SETTINGS_MODULE"] = "beamtime.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from beamtime.fitting import jobs
    from beamtime.fitting.models import Dataset, FitJob

    user = get_user_model().objects.create_user("bench")
    dataset = Dataset.from_upload(user, "double_layer.txt", Path(DATA).read_bytes())

    def run():
        job = FitJob.objects.create(
            owner=user, dataset=dataset, model=MODEL, engine="dream", options=DREAM
        )
        with Timer() as timer:
            assert jobs.run(job.pk) == FitJob.DONE, FitJob.objects.get(pk=job.pk).message
        return timer.times

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fits each way")
    parser.add_argument("--seed", type=int, default=1, help="numpy's seed before every fit")
    args = parser.parse_args()

    from bumps.fitters import FitDriver
    from bumps.fitters import fit as bumps_fit

    from beamtime.fitting import refl1d_adapter
    from beamtime.fitting.data import parse_data
    from beamtime.fitting.layers import LayerModel

    data = parse_data(Path(DATA).read_bytes())
    model = LayerModel.from_dict(MODEL)
    # The CPU time inside bumps' sampler (FitDriver.fit), which all three ways run alike:
    # what a way spends outside it is its own cost.
    sampler = []
    sample = FitDriver.fit

    def timed_sample(self, *args, **kwargs):
        with Timer() as timer:
            found = sample(self, *args, **kwargs)
        sampler.append(timer.times[1])
        return found

    FitDriver.fit = timed_sample

    def with_bumps():
        problem = refl1d_adapter.build_problem(model, data)
        with Timer() as timer:
            bumps_fit(problem, method="dream", **DREAM)
        return timer.times

    def with_adapter():
        with Timer() as timer:
            refl1d_adapter.fit(model, data, "dream", DREAM)
        return timer.times

    with tempfile.TemporaryDirectory() as home:
        ways = {"bumps": with_bumps, "adapter": with_adapter, "job": django_job_runner(home)}
        np.random.seed(args.seed)
        with_adapter()  # warm: imports, numba's compiled kernels
        times = {name: [] for name in ways}
        for run in range(args.runs):
            for name, way in ways.items():
                np.random.seed(args.seed + run)
                times[name].append((*way(), sampler[-1]))
            print(
                f"run {run + 1} (wall / CPU / CPU in the sampler, s): "
                + ", ".join(
                    f"{n} " + " / ".join(f"{v:.3f}" for v in t[-1]) for n, t in times.items()
                )
            )
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; DREAM samples {DREAM['samples']}, burn {DREAM['burn']}, "
        f"median of {args.runs}:"
    )

    def median(name, column):
        return statistics.median(t[column] for t in times[name])

    def outside(name):
        return statistics.median(t[1] - t[2] for t in times[name])

    base = median("bumps", 1)
    print(f"  bumps in-process   wall {median('bumps', 0):.3f} s, CPU {base:.3f} s")
    for name in ("adapter", "job"):
        wall, cpu = median(name, 0) / median("bumps", 0), median(name, 1) / base
        own = (outside(name) - outside("bumps")) / base
        print(
            f"  {name:<18} wall {median(name, 0):.3f} s ({100 * (wall - 1):+.1f} %), "
            f"CPU {median(name, 1):.3f} s ({100 * (cpu - 1):+.1f} %); outside the sampler "
            f"{outside(name):.3f} s against bumps' {outside('bumps'):.3f} s: {100 * own:+.1f} %"
        )


if __name__ == "__main__":
    main()
