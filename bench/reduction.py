"""Data reduction figures, side by side with reductus 1.0.1 in one run, on the same NCNR PBR
files and the same steps: load → normalize (monitor) → join for the specular (mli0111,
mli0115), background (mli01120) and direct-beam (mli0159) scans, subtract the background,
divide by the direct beam, rescale.

- cold: a fresh process with an empty cache. reductus: its steps in a fresh process (its
  imports timed apart); Beamtime: the first calculate over HTTP of a freshly started
  `beamtime serve` with an empty cache, and the engine alone in a fresh process.
- warm: the request again after changing the rescale factor (only that step recomputes).
- cached: the same request once more (everything in the cache).

With ``--template polarized``, the issue's speed goal, against reductus' own web server: the
stock polarized template with footprint (reductus' "polfoot", as its server hands it to its
client; Beamtime's copy of it) on the four-cross-section specular scan mli0170 and the direct
beam mli0159, evaluated at its correct_footprint, each side on a freshly started server
(reductus: bench/reductus_server.py, its Flask server with its default configuration and
in-memory cache; Beamtime: `beamtime serve` with an empty cache), over HTTP as each client
asks (reductus: RPC calc_terminal, plottable, msgpack; Beamtime: /api/reduction/calculate).
- cold: the first evaluation after the server is ready (goal: Beamtime ≤ 0.5 × reductus);
- repeat: after changing the footprint correction's upper Q, downstream of the polarization
  correction: reductus computes its uncached polarization steps and all that follows them
  again, Beamtime the footprint correction only (goal ≤ 0.05 × reductus);
- same: that request once more;
- floor: an authenticated API request that computes nothing (GET /api/reduction/sources with
  the API key), the least any request costs on this stack.
Each server's CPU time per request is taken beside the wall time. The client keeps a
connection to each server, as a browser does (``--new-connections``: one per request;
reductus' server answers each request with "Connection: close", so it gets a new one anyway).
Then both engines alone in fresh processes, in CPU time (hardly changed by the machine's
load): reductus' own process_template (bench/reductus_engine.py) and Beamtime's calculate,
imports apart.
Before its first evaluation each client loads its page, untimed, as a browser does: reductus'
asks for its instrument's definition (get_instrument), Beamtime's for the instruments'
(GET /api/reduction/instruments). reductus imports its whole scientific stack when its server
starts; Beamtime's reduction worker imports the steps as it starts, and the web worker as it
answers the page load, so the imports line is outside both servers' figures.
reductus' server needs its "server" extra (flask, flask-cors, msgpack, requests) in its
environment.

    .venv/bin/python bench/reduction.py [--reductus /path/to/reductus-env/bin/python] [--runs 5]
        [--template unpolarized|polarized] [--new-connections]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from serve import free_port, start_serve, stop  # noqa: E402

from fitting import SETUP, shell  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PBR = DATA / "ncnr-pbr"
POLARIZED = {
    "specular": ["reductus-pbr/mli0170.nxs.pbr"],
    "direct beam": ["ncnr-pbr/mli0159.nxs.pbr"],
}
HARNESS = Path(__file__).parent / "reductus_harness.py"
REDUCTUS_SERVER = Path(__file__).parent / "reductus_server.py"
REDUCTUS_ENGINE = Path(__file__).parent / "reductus_engine.py"
POLFOOT = "Polarized with footprint (reductus)"
SPECULAR, BACKGROUND, DIRECT = (
    ["mli0111.nxs.pbr", "mli0115.nxs.pbr"],
    ["mli01120.nxs.pbr"],
    ["mli0159.nxs.pbr"],
)


def template() -> dict:
    nodes, wires = [], []

    def add(module, *inputs, **config):
        nodes.append({"module": f"refl.{module}", "config": config})
        for source, terminal in inputs:
            wires.append({"source": [source, "output"], "target": [len(nodes) - 1, terminal]})
        return len(nodes) - 1

    def chain(files):
        files = [{"source": "local", "path": f, "mtime": 0} for f in files]
        return add("join", (add("normalize", (add("load", filelist=files), "data")), "data"))

    spec, back, direct = (
        chain([f"ncnr-pbr/{f}" for f in SPECULAR]),
        chain([f"ncnr-pbr/{f}" for f in BACKGROUND]),
        chain([f"ncnr-pbr/{f}" for f in DIRECT]),
    )
    subtracted = add("subtract_background", (spec, "data"), (back, "backm"))
    divided = add("divide_intensity", (subtracted, "data"), (direct, "base"))
    add("rescale", (divided, "data"), scale=1.0)
    return {"name": "bench", "instrument": "refl", "nodes": nodes, "wires": wires}


def polarized_template() -> dict:
    """Beamtime's copy of reductus' stock polarized-with-footprint template, the files of
    POLARIZED in its loaders (by title)."""
    from reductus_comparison import loaded

    from beamtime.reduction.instruments.templates import predefined

    stock = next(t for t in predefined("refl") if t["name"] == POLFOOT)
    nodes = loaded(stock, POLARIZED)
    return {**stock, "nodes": nodes}


ENGINE_ALONE = """
import json, sys, tempfile, time
t0 = time.perf_counter()
from beamtime.reduction import sources
from beamtime.reduction.dataflow.cache import DiskCache
from beamtime.reduction.dataflow.calc import calculate
from beamtime.reduction.dataflow.template import Template
from beamtime.reduction.instruments.refl import registry
t1 = time.perf_counter()
sources.configure([sources.LocalSource("local", sys.argv[1])])
t = Template.from_dict(json.loads(sys.argv[2]))
calculate(t, registry, int(sys.argv[3]), "output", DiskCache(tempfile.mkdtemp()))
t2 = time.perf_counter()
calculate(t, registry, int(sys.argv[3]), "output", DiskCache(tempfile.mkdtemp()))
print(t1 - t0, t2 - t1, time.perf_counter() - t2)
"""


def engine_alone(found: dict, node: int) -> tuple[float, float, float]:
    """Beamtime's engine in a fresh process: (seconds of its imports, of the first reduction
    with an empty disk cache — scientific modules it imports lazily included —, of the same
    reduction again with another empty cache, everything imported)."""
    out = subprocess.run(
        [sys.executable, "-c", ENGINE_ALONE, str(DATA), json.dumps(found), str(node)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(float(x) for x in out.split())


ENGINE_CPU = """
import json, sys, tempfile, time
t0 = time.process_time()
from beamtime.reduction import sources
from beamtime.reduction.dataflow.cache import DiskCache, Recent
from beamtime.reduction.dataflow.calc import calculate
from beamtime.reduction.dataflow.template import Template
from beamtime.reduction.instruments.refl import registry
imports = time.process_time() - t0
sources.configure([sources.LocalSource("local", sys.argv[1])])
node, changes = int(sys.argv[3]), json.loads(sys.argv[4])
template, show = Template.from_dict(json.loads(sys.argv[2])), registry.datatypes["refldata"]

def evaluate(cache, config, recent=None):
    start = time.process_time()
    values = calculate(template, registry, node, "output", cache, config, recent=recent)
    json.dumps([show.display(v) for v in values])
    return time.process_time() - start

cache, recent = DiskCache(tempfile.mkdtemp()), Recent(200_000)  # as a server process keeps
first = evaluate(cache, {}, recent)
again = evaluate(DiskCache(tempfile.mkdtemp()), {})
repeats = [evaluate(cache, config, recent) for config in changes]
json.dump({"imports": imports, "first": first, "again": again, "repeats": repeats}, sys.stdout)
"""


def engines_cpu(python: str, found: dict, node: int, changes: list) -> tuple[dict, dict]:
    """Both engines alone in fresh processes, in CPU seconds (what the machine's load hardly
    changes): reductus' (bench/reductus_engine.py) and Beamtime's, each on a first evaluation
    and on repeats after changing the footprint correction's upper Q."""
    files = [str(DATA / POLARIZED["specular"][0]), str(DATA / POLARIZED["direct beam"][0])]
    command = [python, REDUCTUS_ENGINE, *files, "--repeats", str(len(changes))]
    theirs = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    command = [sys.executable, "-c", ENGINE_CPU, str(DATA), json.dumps(found), str(node)]
    ours = json.loads(
        subprocess.run([*command, json.dumps(changes)], check=True, capture_output=True).stdout
    )
    return theirs, ours


def reductus(python: str) -> tuple[float, float]:
    """(wall seconds of the fresh process, seconds of the reduction inside it)."""
    files = [str(PBR / f) for f in SPECULAR + BACKGROUND + DIRECT]
    t0 = time.perf_counter()
    out = subprocess.run(
        [python, HARNESS, "divide_intensity", *files], check=True, capture_output=True, text=True
    ).stdout
    return time.perf_counter() - t0, json.loads(out)["params"]["seconds"]


@contextmanager
def reductus_server(python: str):
    """reductus' own web server, a fresh process with its default configuration and its
    default (in-memory, so empty) cache, on a free port; yields (URL, seconds to ready, pid)."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [python, REDUCTUS_SERVER, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/RPC2/"
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"reductus' server exited with {proc.returncode} (its server extra?)")
            try:
                with urllib.request.urlopen(url + "list_datasources", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        yield url, time.perf_counter() - t0, proc.pid
    finally:
        stop(proc)


class HTTPError(Exception):
    def __init__(self, url: str, status: int, body: bytes):
        super().__init__(f"{url}: HTTP {status}: {body[:300]!r}")


KEEP_ALIVE = True  # as a browser calls both servers; --new-connections: one per request
_kept = threading.local()  # each thread its own connections, as each browser tab


def http(url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET (or, with ``body``, a POST) of ``url``, over the connection
    this thread keeps to its server (http.client opens it again if the server closed it), or
    a new one."""
    parts = urlsplit(url)
    if not hasattr(_kept, "connections"):
        _kept.connections = {}
    connection = _kept.connections.get(parts.netloc) if KEEP_ALIVE else None
    if connection is None:
        connection = HTTPConnection(parts.hostname, parts.port, timeout=600)
        if KEEP_ALIVE:
            _kept.connections[parts.netloc] = connection
    try:
        connection.request("POST" if body is not None else "GET", parts.path, body, headers or {})
        response = connection.getresponse()
        data = response.read()
    except OSError:
        connection.close()
        raise
    finally:
        if not KEEP_ALIVE:
            connection.close()
    if response.status >= 400:
        raise HTTPError(url, response.status, data)
    return response.status, data


def rpc(url: str, method: str, accept="application/msgpack", **args):
    """Call reductus' RPC as its client does (JSON in, msgpack out); (seconds, answer bytes)."""
    headers = {"Content-Type": "application/json", "Accept": accept}
    body = json.dumps(args).encode()
    t0 = time.perf_counter()
    data = http(url + method, body, headers)[1]
    return time.perf_counter() - t0, data


def cpu_seconds(root: int, named: tuple[str, ...] = ()) -> float:
    """CPU seconds (user + system, every thread, ended ones too) of process ``root`` and its
    descendants, only those whose command line holds one of ``named`` if given (Linux /proc;
    clock-tick resolution)."""
    children, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_text() if named else ""
            if named and not any(name in command for name in named):
                fields[11] = fields[12] = "0"
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    tree, total = [root], 0
    while tree:
        pid = tree.pop()
        total += ticks.get(pid, 0)
        tree += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def on_cpu(server: tuple[int, tuple[str, ...]], request, *args, **kwargs) -> tuple[float, float]:
    """(wall seconds of ``request(...)``, CPU seconds the ``server`` — (root process, part of
    the command line of the processes that serve requests) — spent meanwhile)."""
    before = cpu_seconds(*server)
    wall = request(*args, **kwargs)
    return wall, cpu_seconds(*server) - before


def both(timed: dict, phase: str, reductus_side, template: dict, beamtime_side, body: dict):
    """One request to each server, reductus' first: (wall, CPU) into ``timed``."""
    pid, url, args = reductus_side
    wall = on_cpu((pid, ()), lambda: rpc(url, "calc_terminal", template_def=template, **args)[0])
    timed[("reductus", phase)].append(wall)
    pid, url, key = beamtime_side
    # its web workers and its reduction queue's workers: the others, beat and Redis idle
    serving = (pid, ("gunicorn", "reduction"))
    timed[("beamtime", phase)].append(on_cpu(serving, calculate, url, key, body))


def reductus_polfoot(url: str) -> tuple[dict, int, str]:
    """reductus' stock "polfoot" template as its server hands it to its client, versioned as
    the client does, the files of POLARIZED in its loaders (by intent); with the node and
    terminal of its correct_footprint."""
    answer = rpc(url, "get_instrument", "application/json", instrument_id="ncnr.refl")[1]
    definition = json.loads(answer)
    modules = {m["id"]: m for m in definition["modules"]}
    stock = definition["templates"]["polfoot"]
    files = {"specular": POLARIZED["specular"], "intensity": POLARIZED["direct beam"]}
    nodes = []
    for node in stock["modules"]:
        node = {**node, "version": modules[node["module"]]["version"]}
        intent = node.get("config", {}).get("intent")
        if node["module"].startswith("ncnr.refl.super_load") and intent in files:
            filelist = [
                {"source": "local", "path": str(DATA / f), "mtime": int((DATA / f).stat().st_mtime)}
                for f in files[intent]
            ]
            node["config"] = {**node["config"], "filelist": filelist}
        nodes.append(node)
    target = next(i for i, n in enumerate(nodes) if n["module"] == "ncnr.refl.correct_footprint")
    terminal = modules["ncnr.refl.correct_footprint"]["outputs"][0]["id"]
    template = {
        "name": "polfoot",
        "description": "reductus' stock polarized template with footprint",
        "instrument": "ncnr.refl",
        "version": "1.0",
        "modules": nodes,
        "wires": stock["wires"],
    }
    return template, target, terminal


def call(url: str, key: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body).encode()
    status, answer = http(url + path, data, headers)
    return status, json.loads(answer)


def calculated(url: str, key: str, body: dict) -> list:
    """The values, as a client does it: a 202 is a job on the reduction pool, polled until it
    is done, then the request again (answered from the cache)."""
    for _ in range(3):
        status, answer = call(url, key, "api/reduction/calculate", body)
        if status != 202:
            return answer["values"]
        while answer["state"] in ("queued", "running"):
            time.sleep(0.05)
            _, answer = call(url, key, answer["url"].lstrip("/"))
        assert answer["state"] == "done", answer
    raise AssertionError("the result did not stay cached")


def calculate(url: str, key: str, body: dict) -> float:
    t0 = time.perf_counter()
    values = calculated(url, key, body)
    elapsed = time.perf_counter() - t0
    assert values and "reflectivity" in values[0]["ylabel"], values
    return elapsed


FLOOR_CALLS = 20


def bare(url: str, key: str) -> float:
    """Seconds of an authenticated API request that computes nothing (the data sources)."""
    t0 = time.perf_counter()
    status, answer = call(url, key, "api/reduction/sources")
    assert status == 200 and answer, answer
    return time.perf_counter() - t0


def ms(values) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def ratio(a, b) -> str:
    return f"{statistics.median(a) / statistics.median(b):.3f}"


def unpolarized(args):
    found = template()
    node = len(found["nodes"]) - 1
    body = {"template": found, "config": {}, "node": node}
    walls, steps = zip(*(reductus(args.reductus) for _ in range(args.runs)), strict=True)
    print(f"{args.runs} runs each, medians; template of {len(found['nodes'])} nodes")
    print(f"  reductus 1.0.1, fresh process: {ms(walls)} wall, of which the reduction {ms(steps)}")
    alone = [engine_alone(found, node) for _ in range(args.runs)]
    engine = [first for _, first, _ in alone]
    print(
        f"  beamtime engine, fresh process, empty disk cache: {ms(i + r for i, r, _ in alone)} "
        f"wall, of which the reduction {ms(engine)}   ratio {ratio(engine, steps)}"
    )
    cold, warm, cached = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp:
            home = Path(tmp) / "var"
            proc, url, _ = start_serve(home, REDUCTION_LOCAL_DATA=str(DATA))
            try:
                key = shell(home, SETUP)
                cold.append(calculate(url, key, body))
                for value in (2.0, 3.0, 4.0):
                    config = {str(node): {"scale": value + 0.1 * run}}
                    warm.append(calculate(url, key, {**body, "config": config}))
                    cached.append(calculate(url, key, {**body, "config": config}))
            finally:
                stop(proc)
    print(
        f"  beamtime over HTTP, fresh server, empty cache (cold): {ms(cold)}   "
        f"ratio to reductus' reduction {ratio(cold, steps)} (goal ≤ 1)"
    )
    print(
        f"  beamtime warm, scale changed: {ms(warm)}   "
        f"ratio to cold {ratio(warm, cold)} (goal ≤ 0.2)"
    )
    print(f"  beamtime fully cached repeat: {ms(cached)} (goal ≤ 50 ms)")


PHASES = (
    ("first evaluation (cold)", 0.5),
    ("repeat, footprint Qmax changed", 0.05),
    ("same request again", None),
)


def polarized(args):
    """Each run: both servers fresh, side by side; the first evaluation of correct_footprint on
    each, then, in turn on each, repeats after changing the upper Q of the footprint
    correction (downstream of the polarization correction), and that request once more. The
    two servers alternate request by request, so both see the same load of the machine; the
    CPU time each server's processes spent on a request is taken too (the machine's load
    stretches wall times, hardly CPU times)."""
    found = polarized_template()
    node = [n["title"] for n in found["nodes"]].index("correct footprint")
    body = {"template": found, "config": {}, "node": node}
    qmax = [0.02, 0.025, 0.03, 0.035, 0.04]
    ready = {"reductus": [], "beamtime": []}
    timed = {(side, phase): [] for side in ready for phase, _ in PHASES}  # (wall, cpu) each
    floor = []  # (wall, cpu) of an authenticated request that does nothing
    for run in range(args.runs):
        with (
            reductus_server(args.reductus) as (r_url, r_ready, r_pid),
            tempfile.TemporaryDirectory(prefix="bt-bench-") as tmp,
        ):
            ready["reductus"].append(r_ready)
            polfoot, target, terminal = reductus_polfoot(r_url)  # untimed: its client's page load
            r_args = dict(config={}, nodenum=target, terminal_id=terminal, return_type="plottable")
            proc, b_url, b_ready = start_serve(Path(tmp) / "var", REDUCTION_LOCAL_DATA=str(DATA))
            ready["beamtime"].append(b_ready)
            try:
                key = shell(Path(tmp) / "var", SETUP)
                call(b_url, key, "api/reduction/instruments")  # untimed: its client's page load

                reductus_side = (r_pid, r_url, r_args)
                beamtime_side = (proc.pid, b_url, key)
                both(timed, PHASES[0][0], reductus_side, polfoot, beamtime_side, body)
                for q in qmax:
                    q += run / 1000  # each run its own values
                    nodes = list(polfoot["modules"])
                    config = {**nodes[target].get("config", {}), "correction_range": [None, q]}
                    nodes[target] = {**nodes[target], "config": config}
                    changed = {**polfoot, "modules": nodes}
                    b_body = {**body, "config": {str(node): {"Qmax": q}}}
                    both(timed, PHASES[1][0], reductus_side, changed, beamtime_side, b_body)
                    both(timed, PHASES[2][0], reductus_side, changed, beamtime_side, b_body)
                for _ in range(FLOOR_CALLS):  # the floor under any reduction request
                    floor.append(on_cpu((proc.pid, ("gunicorn",)), bare, b_url, key))
            except HTTPError as exc:  # say what the server logged
                for log in sorted((Path(tmp) / "var").rglob("*.log")):
                    print(f"--- {log}", *log.read_text().splitlines()[-40:], sep="\n")
                sys.exit(str(exc))
            finally:
                stop(proc)
    changes = [{str(node): {"Qmax": q}} for q in qmax]
    engines = [engines_cpu(args.reductus, found, node, changes) for _ in range(args.runs)]
    print(
        f"servers ready after: reductus {ms(ready['reductus'])}, Beamtime "
        f"{ms(ready['beamtime'])} (a fresh home: migrations)"
    )
    print(
        f"{args.runs} fresh servers each, {len(qmax)} repeats each; stock polarized template "
        f"with footprint: reductus {len(polfoot['modules'])} nodes, Beamtime "
        f"{len(found['nodes'])} (load and normalize apart)"
    )
    print(
        f"  wall: median (max) | server CPU: mean  {'reductus server':>24} "
        f"{'beamtime serve':>24}   ratio (wall, CPU)   goal"
    )
    for phase, goal in PHASES:
        cells, medians = [], []
        for side in ("reductus", "beamtime"):
            wall, cpu = zip(*timed[(side, phase)], strict=True)
            medians.append((statistics.median(wall), statistics.mean(cpu)))
            cells.append(
                f"{ms(wall)} ({max(wall) * 1000:5.0f}) | {statistics.mean(cpu) * 1000:4.0f}"
            )
        (r_wall, r_cpu), (b_wall, b_cpu) = medians
        cpu_ratio = f"{b_cpu / r_cpu:.3f}" if r_cpu else "-"
        print(
            f"  {phase:34} {cells[0]:>24} {cells[1]:>24}   {b_wall / r_wall:.3f}, {cpu_ratio:>5}"
            f"   {'≤ ' + str(goal) if goal else ''}"
        )
    wall, cpu = zip(*floor, strict=True)
    print(
        f"  floor: GET /api/reduction/sources with the API key (Django, authentication, "
        f"ninja; no reduction), {len(floor)} calls: {ms(wall)} wall | "
        f"{statistics.mean(cpu) * 1000:4.1f} ms CPU"
    )
    print("engines alone, fresh processes, CPU ms, medians: reductus | Beamtime   ratio")
    for label, theirs, ours in (
        ("imports", [r["imports"] for r, _ in engines], [b["imports"] for _, b in engines]),
        ("first evaluation", [r["first"] for r, _ in engines], [b["first"] for _, b in engines]),
        (
            "repeat, footprint Qmax changed",
            [x for r, _ in engines for x in r["repeats"]],
            [x for _, b in engines for x in b["repeats"]],
        ),
    ):
        print(f"  {label:34} {ms(theirs)} | {ms(ours)}   {ratio(ours, theirs)}")
    print(
        f"  (Beamtime's first evaluation again, imports done: {ms(b['again'] for _, b in engines)})"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reductus", default=os.environ.get("BEAMTIME_REDUCTUS_PYTHON", ""))
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each")
    parser.add_argument("--template", choices=["unpolarized", "polarized"], default="unpolarized")
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="a new connection per request (default: one kept per server, as a browser does)",
    )
    args = parser.parse_args()
    global KEEP_ALIVE
    KEEP_ALIVE = not args.new_connections
    if not args.reductus:
        sys.exit("name reductus' python with --reductus or BEAMTIME_REDUCTUS_PYTHON")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start; "
        f"{'a connection kept per server' if KEEP_ALIVE else 'a new connection per request'}"
    )
    (polarized if args.template == "polarized" else unpolarized)(args)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
