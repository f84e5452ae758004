"""A client for the FPlane service: one file, Python's standard library only.

The server offers it for download at /fplane/get_fplane.py, with its own address filled in,
so that observers need nothing else installed::

    python3 get_fplane.py 20180715              # → fplane20180715.txt
    python3 get_fplane.py 20180715T03:04:05 -s  # a FITS DATE-OBS; short file
    python3 get_fplane.py -o fplane.txt -p      # now; measured positions

or, as a library::

    from get_fplane import get_fplane
    get_fplane("fplane.txt", "20180715", actpos=False, full=True, url="http://beamtime:8000")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = os.environ.get("BEAMTIME_URL", "http://127.0.0.1:8000")
# Files per import request: the server refuses more (one request, one transaction, must end
# in seconds); import_fplane sends more in batches of this size.
MAX_FILES = 50


class FplaneClientError(Exception):
    pass


def fplane_url(
    datestr: str = "", actpos: bool = False, full: bool = True, url: str = DEFAULT_URL
) -> str:
    query = urllib.parse.urlencode({"actual_pos": int(actpos), "full_fplane": int(full)})
    return f"{url.rstrip('/')}/fplane/{urllib.parse.quote(datestr, safe=':')}?{query}"


def _request(request: urllib.request.Request) -> tuple[str, str | None]:
    """Return the response text and the file name the server suggests."""
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            disposition = response.headers.get("Content-Disposition", "")
            match = re.search(r'filename="([^"/\\]+)"', disposition)
            return response.read().decode(), match.group(1) if match else None
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode(errors="replace").strip() or exc.reason
        with contextlib.suppress(ValueError, KeyError, TypeError):
            reason = json.loads(reason)["error"]  # the JSON API's {"error": …, "field": …}
        raise FplaneClientError(f"the server responded with {exc.code}: {reason}") from None
    except urllib.error.URLError as exc:
        raise FplaneClientError(f"cannot reach {request.full_url}: {exc.reason}") from None


def fetch_fplane(
    datestr: str = "", actpos: bool = False, full: bool = True, url: str = DEFAULT_URL
):
    """Return the fplane file's text and its default file name (fplaneYYYYMMDD.txt)."""
    text, name = _request(urllib.request.Request(fplane_url(datestr, actpos, full, url)))
    return text, name or f"fplane{datestr}.txt"


def get_fplane(filename, datestr="", actpos=False, full=True, url=DEFAULT_URL):
    """Write the fplane file valid at ``datestr`` (empty: now) to ``filename``."""
    text, _ = fetch_fplane(datestr, actpos, full, url)
    with open(filename, "w") as f:
        f.write(text)


def update_fplane(
    report: dict, key: str, commit: bool = False, start: str = "", url: str = DEFAULT_URL
) -> str:
    """Send a hardware status report; return the resulting fplane file (dry run unless commit)."""
    body = {"config": report, "commit": commit}
    if start:
        body["start"] = start
    request = urllib.request.Request(
        f"{url.rstrip('/')}/fplane",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"FPS_API APIKEY={key}"},
        method="POST",
    )
    return _request(request)[0]


def batches(files: list) -> list[list]:
    """``files`` in slices of at most MAX_FILES, in the order given."""
    return [files[i : i + MAX_FILES] for i in range(0, len(files), MAX_FILES)]


def import_fplane(
    files: list[dict], key: str, dry_run: bool = False, url: str = DEFAULT_URL
) -> list[dict]:
    """Import fplane files ({"name", "text", "start"}) as history; return what each did.

    Sent in order of name (fplaneYYYYMMDD… sorts by date), MAX_FILES a request; a refused
    batch stops the import, the batches before it stay imported (importing again is harmless).
    """
    outcomes = []
    for batch in batches(sorted(files, key=lambda f: f["name"])):
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/configs/hetdex/import",
            data=json.dumps({"files": batch, "dry_run": dry_run}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            method="POST",
        )
        try:
            outcomes += json.loads(_request(request)[0])
        except FplaneClientError as exc:
            done = f" (the {len(outcomes)} files before it were imported)" if outcomes else ""
            raise FplaneClientError(f"{exc}{done}") from None
    return outcomes


def describe_import(outcomes: list[dict]) -> str:
    """One line per file: what it changed."""
    lines = []
    for o in outcomes:
        what = (
            f"change {o['change']}: {len(o['changed_slots'])} slot(s) changed "
            f"({', '.join(o['changed_slots'][:8])}{' …' if len(o['changed_slots']) > 8 else ''})"
            if o["change"]
            else "unchanged"
        )
        lines.append(f"{o['file']}  from {o['start']}  {what}")
    return "".join(f"{line}\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    """Download a file as the FPlane manual's get_fplane.sh does."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="get_fplane", description="Download the HETDEX fplane file valid at a date."
    )
    parser.add_argument(
        "date",
        nargs="?",
        default="",
        help="YYYYMMDD (midnight of that night), YYYYMMDDTHH:MM:SS (a FITS DATE-OBS, UTC), "
        "ISO 8601 or latest (default: now)",
    )
    parser.add_argument("-o", "--output", help="file to write (default: fplaneDATE.txt)")
    parser.add_argument("-s", "--short", action="store_true", help="only the active VIRUS IFUs")
    parser.add_argument("-p", "--positions", action="store_true", help="measured positions")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server (default: {DEFAULT_URL})")
    args = parser.parse_args(argv)
    try:
        text, name = fetch_fplane(args.date, args.positions, not args.short, args.url)
    except FplaneClientError as exc:
        print(f"get_fplane: {exc}", file=sys.stderr)
        return 1
    path = args.output or name
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
