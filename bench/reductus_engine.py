"""reductus 1.0.1's engine alone, CPU seconds: its stock "polfoot" template (polarized, with
footprint) on the given specular and direct-beam files, through reductus' own
process_template with its in-memory cache, as its server runs a calc_terminal request for a
plot (the plottable, packed with msgpack). Runs ONLY under reductus' environment:

    /path/to/reductus-env/bin/python bench/reductus_engine.py SPECULAR DIRECT_BEAM [--repeats 5]

Prints JSON: {"imports": CPU s of importing and configuring reductus, "first": of the first
evaluation, "repeats": [of each evaluation after changing the footprint correction's
range]}.
"""

import argparse
import contextlib
import copy
import io
import json
import os
import sys
import time
import warnings

t0 = time.process_time()
import msgpack  # noqa: E402
import reductus_shim  # noqa: E402, F401  (NICE's 1×1 strings, for reductus)
from reductus.dataflow import configure  # noqa: E402
from reductus.dataflow.calc import process_template  # noqa: E402
from reductus.dataflow.core import Template, lookup_instrument  # noqa: E402

LOCAL = {"name": "local", "url": "file:///", "start_path": ""}
configure.apply_config(
    user_config={"cache": {"engine": "memory"}, "data_sources": [LOCAL], "instruments": ["refl"]}
)
IMPORTS = time.process_time() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specular")
    parser.add_argument("direct_beam")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    definition = lookup_instrument("ncnr.refl").get_definition()
    versions = {m["id"]: m["version"] for m in definition["modules"]}
    stock = definition["templates"]["polfoot"]
    files = {"specular": args.specular, "intensity": args.direct_beam}
    nodes = []
    for node in copy.deepcopy(stock["modules"]):
        node["version"] = versions[node["module"]]
        intent = node.get("config", {}).get("intent")
        if node["module"].startswith("ncnr.refl.super_load") and intent in files:
            path = os.path.abspath(files[intent])
            info = {"source": "local", "path": path, "mtime": int(os.path.getmtime(path))}
            node["config"]["filelist"] = [info]
        nodes.append(node)
    target = [n["module"] for n in nodes].index("ncnr.refl.correct_footprint")

    def evaluate(qmax=None):
        modules = copy.deepcopy(nodes)
        if qmax is not None:
            modules[target].setdefault("config", {})["correction_range"] = [None, qmax]
        template = Template("polfoot", "", modules, stock["wires"], "ncnr.refl", version="1.0")
        start = time.process_time()
        result = process_template(template, {}, target=(target, "outputs"))
        msgpack.packb(result.get_plottable(), use_bin_type=True)
        return time.process_time() - start

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # reductus repeats data.warnings via warnings.warn
        first = evaluate()
        repeats = [evaluate(0.02 + i / 200) for i in range(args.repeats)]
    json.dump({"imports": IMPORTS, "first": first, "repeats": repeats}, sys.stdout)


if __name__ == "__main__":
    main()
