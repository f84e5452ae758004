"""The FPlane service, compatible with existing clients (get_fplane.sh, get_fplane()).

``GET /fplane/[DATESTR]?actual_pos=0|1&full_fplane=0|1`` returns the fplane file valid at
that date; ``POST /fplane`` with an API key updates it from a hardware status report
(see report.py). Errors are one line of plain text with a 4xx status.
"""

import json
import logging
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from beamtime.configs import served, store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.fplane import render, rows_for, shown
from beamtime.configs.instruments import HETDEX
from beamtime.configs.models import Instrument
from beamtime.configs.report import ReportError, check_timestamp, read_report
from beamtime.core.auth import key_allows, user_from_request

log = logging.getLogger("beamtime.fplane")

UPDATE_PERMISSION = "configs.add_change"
WRITE_SCOPE = "write:fplane"
BODY_KEYS = {"config", "commit", "start"}
BOOLEANS = {"1": True, "0": False, "true": True, "false": False}
MAX_BODY_DEPTH = 20  # a report is 4 levels deep


class BadRequest(ValueError):
    pass


def text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8", status=status)


def flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key not in BOOLEANS:
        raise BadRequest(f"{name} must be 0 or 1, not {shown(value)}")
    return BOOLEANS[key]


def fplane_instrument() -> Instrument | None:
    return Instrument.objects.filter(name=HETDEX).first()


NO_INSTRUMENT = f"no focal-plane instrument {HETDEX!r} on this server\n"


@csrf_exempt  # changes nothing; a POST here gets the same plain-text answer as elsewhere
@login_not_required
def fplane_file(request, datestr: str = ""):
    if request.method != "GET":
        return text("use GET to read the fplane file, POST /fplane to update it\n", 405)
    try:
        actual_pos = flag(request.GET.get("actual_pos", "0"), "actual_pos")
        full = flag(request.GET.get("full_fplane", "1"), "full_fplane")
        found = served.locate(HETDEX, datestr)
        if found is None:
            return text(NO_INSTRUMENT, 404)
        instrument = found.instrument
        as_of, tag = store.as_known(
            instrument, request.GET.get("as_of", ""), request.GET.get("tag", "")
        )
    except (DateError, BadRequest, store.ViewError) as exc:
        return text(f"{exc}\n", 400)
    if found.boundary is None:
        return before_first(instrument)
    key = (instrument.pk, instrument.revision, found.revised_at, as_of, found.boundary)
    key += (actual_pos, full)
    file = RENDERED.get(key)
    if file is None:
        file, read = render_file(instrument, found.when, as_of, actual_pos=actual_pos, full=full)
        if read == instrument.revision:  # else a write came between: its revision is newer
            RENDERED.put(key, file)
    body, revision = file
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fplane{found.stem}.txt"'
    if revision:  # which revision of the history this file comes from
        response["X-Configuration-Revision"] = str(revision)
    if tag is not None:
        response["X-Configuration-Tag"] = tag.name
    return response


# Files by validity interval: five years of daily changes are 1826 files of ~3.5 kB.
RENDERED = served.Recent(4096)


def before_first(instrument) -> HttpResponse:
    first = store.first_start(instrument)
    if first is None:
        return text("no focal-plane configuration has been recorded yet\n", 404)
    return text(
        f"no configuration before {first:%Y-%m-%dT%H:%M:%SZ}: "
        f"the first valid date is {first:%Y%m%dT%H:%M:%S}\n",
        404,
    )


def render_file(instrument, when, as_of, *, actual_pos: bool, full: bool):
    """The file's bytes with the revision of the history it shows, and the instrument's
    revision read with its entries."""
    body, read = served.file_at(instrument, when, as_of, actual_pos=actual_pos, full=full)
    if as_of is None:
        revision = instrument.revision if read is None else read
    else:
        change = store.revision_at(instrument, as_of)
        revision = change.revision if change else None
    return (body.encode(), revision), read


def depth(value, limit: int = MAX_BODY_DEPTH + 1) -> int:
    """How deeply lists and objects nest in a JSON value (counted up to ``limit``)."""
    level, layer = 0, [value]
    while layer and level < limit:
        layer = [
            child
            for item in layer
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        level += 1
    return level


@csrf_exempt  # authenticated by API key only, never by a session cookie
@login_not_required
def fplane_update(request):
    if request.method == "GET":
        return fplane_file(request)
    if request.method != "POST":
        return text("use POST to update the fplane\n", 405)
    user = user_from_request(request)
    if user is None:
        return text(
            "a valid API key is required: send 'Authorization: FPS_API APIKEY=<key>'\n", 401
        )
    request.user = user  # for the request log
    if not key_allows(request, WRITE_SCOPE):
        return text(f"this key may not update configurations (it lacks {WRITE_SCOPE!r})\n", 403)
    if not user.has_perm(UPDATE_PERMISSION):
        return text(f"user {user.get_username()} may not update the focal plane\n", 403)
    instrument = fplane_instrument()
    if instrument is None:
        return text(NO_INSTRUMENT, 404)
    now = timezone.now()
    try:
        body = read_body(request)
        commit = flag(body.get("commit", False), "commit")
        timestamp, state = read_report(body["config"])
        if not state:  # the complete hardware status: no unit would empty the focal plane
            raise ReportError("config.slots", "no units (a truncated status?): nothing changed")
        warning = check_timestamp(timestamp, now)
        start = read_start(body.get("start"), instrument, now)
        if commit:
            change = store.apply_change(
                instrument,
                state,
                valid_from=start,
                user=user,
                source="api",
                replace_all=True,
                reason=f"hardware status of {timestamp:%Y-%m-%dT%H:%M:%SZ}",
            )
        else:
            store.check_start(instrument, start)
    except (BadRequest, ReportError, DateError, store.StartTooFarAhead) as exc:
        return text(f"{exc}\n", 400)
    except store.ChangeRefused as exc:
        return text(f"{exc}\n", 409)

    notes = []
    if warning:
        log.warning("fplane update by %s: %s", user.get_username(), warning)
        notes.append(f"WARNING: {warning}")
    if not commit:
        notes.append('dry run: nothing was written (send "commit": true to write)')
    elif change is None:
        notes.append("no change: this is already the current configuration")
    else:
        log.info("fplane change %s by %s from %s", change.pk, user.get_username(), start)
        notes.append(f"committed as change {change.pk}, valid from {start:%Y-%m-%dT%H:%M:%SZ}")
    rows = rows_for(state, actual_pos=False, full=True)
    return text(
        "".join(f"## {n}\n" for n in notes) + render(rows), 201 if commit and change else 200
    )


def read_start(value, instrument: Instrument, now):
    """The ``start`` of an update: a date string, now when absent."""
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise BadRequest(f"start: {shown(value)} is not a date string (e.g. 20180715T03:04:05)")
    try:
        return parse_datestr(value, instrument.timezone)[0]
    except DateError as exc:
        raise BadRequest(f"start: {exc}") from None


def read_body(request) -> dict:
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is not JSON this server reads: nested too deeply") from None
    if depth(body) > MAX_BODY_DEPTH:
        raise BadRequest(f"the body is nested more than {MAX_BODY_DEPTH} levels deep")
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object {"config": {...}, "commit": true|false}')
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:
        raise BadRequest(f"unknown key {shown(unknown[0])} (the keys are config, commit, start)")
    if "config" not in body:
        raise BadRequest("config: the hardware status report is missing")
    return body


CLIENT = Path(__file__).with_name("client.py")


@login_not_required
def download_client(request, name: str):
    """get_fplane.sh (sh + curl) or get_fplane.py (Python's standard library), with this
    server's address filled in."""
    if request.method != "GET":
        return text("use GET\n", 405)
    server = request.build_absolute_uri("/").rstrip("/")  # the host is in ALLOWED_HOSTS
    if name == "get_fplane.sh":
        instrument = fplane_instrument()
        body = render_to_string(
            "configs/get_fplane.sh",
            {"server": server, "timezone": instrument.timezone if instrument else "UTC"},
        )
        content_type = "text/x-shellscript; charset=utf-8"
    else:
        body = CLIENT.read_text().replace(
            '"BEAMTIME_URL", "http://127.0.0.1:8000"', f'"BEAMTIME_URL", {server!r}', 1
        )
        content_type = "text/x-python; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
