"""reductus 1.0.1's own web server (``reductus.web_gui.run``: Flask, its default
configuration with the "local" data source, its default in-memory step cache), with the
1×1-string shim that lets it read the NICE files of shared/data. Runs ONLY under reductus'
environment, which needs reductus' "server" extra (flask, flask-cors, msgpack, requests):

    /path/to/reductus-env/bin/python bench/reductus_server.py --port 8002 [run.py's options]

The shim patches a module reductus' server imports at start anyway (nexusref), so nothing is
loaded ahead that reductus would not load itself.
"""

import sys

import reductus_shim  # noqa: F401  (the shim, for its effect)
from reductus.web_gui import run

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "--headless", *sys.argv[1:]]
    run.main()
