"""The fit page's speed, each figure beside its anchor in the same run, under `beamtime serve`
with its own Celery worker:

- Evaluate over HTTP: the page's own form (front, layer formset, back, globals) posted from
  Chromium with fetch to /fit/…/evaluate, and the JSON API's evaluate, beside
  refl1d_adapter.evaluate in-process (goal p50 < 30 ms);
- a click on Evaluate → the plots redrawn and painted in Chromium (Playwright, Debian's
  /usr/bin/chromium; goal p50 < 300 ms), timed in the page from the click to the frame after
  the redraw;
- an LM fit, submit → result over HTTP (goal p50 < 250 ms), beside the refl1d command line
  fitting the script the page downloads for the same model (`refl1d model.py --fit=lm
  --steps=200 --batch --session=…`), in the same run.

The model is the manual session's (A = 500 in 400–600, B = 40 in 30–50) on double_layer.txt.

    PYTHONPATH=src .venv/bin/python bench/fitting_speed.py [--evals 50] [--clicks 30] [--runs 10]
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import parse_data
from beamtime.fitting.layers import LayerModel

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is no package
from serve import machine, start_serve  # noqa: E402

from fitting import DATA, LM, MODEL, SETUP, Client, cli_fit, fit_http, shell  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-password-1"
USER = """
from django.contrib.auth import get_user_model
from beamtime.fitting.models import SavedModel
user = get_user_model().objects.get(username="bench")
user.set_password(%r)
user.save()
print(SavedModel.objects.create(owner=user, title="bench", model=%r).pk)
"""
# In the page: each fetch of the page's own form to its evaluate URL, answer read, in ms.
FETCHES = """async (n) => {
  const form = document.querySelector("form.model-form");
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const body = new URLSearchParams(new FormData(form));  // as the page posts it
    const response = await fetch(form.dataset.evaluateUrl, { method: "POST", body });
    if (!response.ok) throw new Error("evaluate answered " + response.status);
    await response.json();
    times.push(performance.now() - t0);
  }
  return times;
}"""
# In the page: from the click on Evaluate (capture phase, before the page's own handler) to the
# frame after the plots are redrawn (the form's "evaluated" event comes after both draws).
CLICK_TIMER = """() => {
  window.clicks = [];
  window.draws = [];  // ms in Plotly.react, both plots of one click together
  const react = Plotly.react;
  Plotly.react = function (...args) {
    const t0 = performance.now();
    const done = react.apply(this, args);
    const ms = performance.now() - t0;
    if (args[0].id === "refl-plot") window.draws.push(ms);
    else window.draws[window.draws.length - 1] += ms;
    return done;
  };
  const button = document.querySelector(".actions button[value=evaluate]");
  button.addEventListener("click", () => { window.clickedAt = performance.now(); }, true);
  document.querySelector("form.model-form").addEventListener("evaluated", () => {
    const done = () => window.clicks.push(performance.now() - window.clickedAt);
    requestAnimationFrame(() => setTimeout(done));
  });
}"""


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def line(label: str, values_ms: list[float], goal: str = "") -> str:
    return (
        f"  {label}: p50 {statistics.median(values_ms):6.1f} ms, p90 {p(values_ms, 0.9):6.1f} ms"
        + (f"   ({goal})" if goal else "")
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--evals", type=int, default=50, help="evaluate calls, each way")
    parser.add_argument("--clicks", type=int, default=30, help="Evaluate clicks in Chromium")
    parser.add_argument("--runs", type=int, default=10, help="LM fits, each way")
    args = parser.parse_args()
    print(
        machine(
            f"load average {os.getloadavg()[0]:.2f} at start; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
    )
    model = LayerModel.from_dict(MODEL)
    data = parse_data(Path(DATA).read_bytes())
    proc = None
    with tempfile.TemporaryDirectory(prefix="bt-speed-") as tmp, sync_playwright() as pw:
        home = Path(tmp) / "var"
        try:
            proc, url, _ = start_serve(home)
            client = Client(url, shell(home, SETUP))
            dataset = client.upload(Path(DATA))
            saved = shell(home, USER % (PASSWORD, model.to_dict()))
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}accounts/login/?next=/fitting/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/fitting/")
            page.goto(f"{url}fit/upload/{dataset}?model={saved}")
            page.wait_for_selector("#sld-plot .main-svg")

            print(f"evaluate, {args.evals} calls each:")
            page.evaluate(FETCHES, 3)  # warm-up
            form = page.evaluate(FETCHES, args.evals)
            # The same form posted from Python with the page's session: the server's part
            # without the browser's (FormData, fetch, JSON parsing, Chromium's own CPU).
            fields = page.evaluate(
                "() => [...new FormData(document.querySelector('form.model-form'))]"
            )
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
            form_request = urllib.request.Request(
                f"{url}fit/upload/{dataset}/evaluate",
                data=urllib.parse.urlencode([tuple(f) for f in fields]).encode(),
                headers={
                    "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                    "X-CSRFToken": cookies["csrftoken"],
                },
            )
            posted, api, local = [], [], []
            for _ in range(args.evals):
                t0 = time.perf_counter()
                with urllib.request.urlopen(form_request, timeout=60) as response:
                    json.load(response)
                posted.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                client.call(f"api/fitting/datasets/{dataset}/evaluate", {"model": MODEL})
                api.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                refl1d_adapter.evaluate(model, data)
                local.append((time.perf_counter() - t0) * 1000)
            anchor = statistics.median(local)
            print(line("the page's form, fetch from Chromium", form, "goal p50 < 30 ms"))
            print(line("the same form posted from Python (urllib, the page's session)", posted))
            print(line("POST /api/fitting/datasets/{id}/evaluate", api))
            print(
                line("refl1d_adapter.evaluate in-process (anchor)", local)
                + f"   ratio {statistics.median(form) / anchor:.1f}"
            )

            page.evaluate(CLICK_TIMER)
            for i in range(args.clicks):  # a new thickness each time, so each click redraws
                page.fill("input[name=layer-1-thickness-value]", f"{500 + i % 7 * 10}")
                page.click(".actions button[value=evaluate]")
                page.wait_for_function("n => window.clicks.length > n", arg=i)
            clicks = page.evaluate("window.clicks")
            draws = page.evaluate("window.draws")
            requests = page.evaluate(
                "() => performance.getEntriesByType('resource')"
                ".filter(e => e.name.endsWith('/evaluate')).map(e => e.duration)"
            )[-args.clicks :]
            print(f"click on Evaluate → plots redrawn and painted, {args.clicks} clicks:")
            print(line("Chromium", clicks[1:], "goal p50 < 300 ms") + "  (first click left out)")
            print(line("  of which the request (resource timing)", requests[1:]))
            print(line("  of which Plotly.react, both plots", draws[1:]))

            script = Path(tmp) / "model.py"
            script.write_bytes(page.request.get(f"{url}fitting/models/{saved}/script").body())
            shutil.copy(DATA, Path(tmp) / "data.txt")  # the downloaded script reads data.txt
            browser.close()
            cli = [
                cli_fit(script, Path(tmp) / f"out{i}", export=False)[0] for i in range(args.runs)
            ]
            fit_http(client, dataset, "lm", LM)  # warm-up: the worker's first fit
            fits = [fit_http(client, dataset, "lm", LM)["total"] * 1000 for _ in range(args.runs)]
            anchor = statistics.median(cli)
            print(f"LM fit, steps 200, {args.runs} fits each way:")
            print(
                line("beamtime submit → result over HTTP, polled every 10 ms", fits, "goal < 250")
            )
            print(
                f"  refl1d CLI on the downloaded script (anchor): median {anchor:.2f} s wall   "
                f"ratio {statistics.median(fits) / 1000 / anchor:.3f}"
            )
            print(f"load average {os.getloadavg()[0]:.2f} at the end")
        finally:
            if proc:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
