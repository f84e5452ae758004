import difflib
import re
from datetime import timedelta
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import content_disposition_header

from beamtime.configs import store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.fplane import LRS2, column_row, nominal_position, slot_names
from beamtime.configs.models import ConfigEntry, Instrument
from beamtime.core.access import instrument_for_user, instruments_for_user

STATE_COLOURS = {
    "VIRUS": "#15803d",
    "inactive": "#f59e0b",
    "LRS": "#2563eb",
    "HRS": "#7c3aed",
    "HPF": "#db2777",
    "empty": "#d1d5db",
}


def index(request):
    return render(
        request, "configs/index.html", {"instruments": instruments_for_user(request.user)}
    )


def read_date(request, param: str, instrument: Instrument):
    """The instant named by a query parameter (now when absent) and an error message."""
    raw = request.GET.get(param, "")
    try:
        return parse_datestr(raw, instrument.timezone)[0], None
    except DateError as exc:
        return timezone.now(), f"{param}: {exc}"


def read_view(request, instrument: Instrument):
    """The revision a page shows: as known at ?as_of=, or at ?tag= (default: the latest),
    its context for the page, and an error message."""
    as_of, tag = request.GET.get("as_of", ""), request.GET.get("tag", "")
    try:
        seen_at, tagged = store.as_known(instrument, as_of, tag)
        error = None
    except store.ViewError as exc:
        seen_at, tagged, error = None, None, str(exc)
    view = {
        "as_of": seen_at,
        "tag": tagged,
        "revision": store.revision_at(instrument, seen_at),
        "query": ""
        if error
        else urlencode({k: v for k, v in (("as_of", as_of), ("tag", tag)) if v}),
        "tags": instrument.tags.all()[:20],
    }
    return seen_at, view, error


def instrument(request, name):
    instrument = instrument_for_user(request.user, name)
    when, error = read_date(request, "at", instrument)
    as_of, view, view_error = read_view(request, instrument)
    entries = store.configuration_at(instrument, when, as_of)
    changes = instrument.changes.select_related("made_by").order_by("-revision")
    if as_of is not None:
        changes = changes.filter(made_at__lte=as_of)
    context = {
        "instrument": instrument,
        "when": when,
        "at": request.GET.get("at", ""),
        "error": error or view_error,
        "view": view,
        "entries": sorted(entries.values(), key=lambda e: e.slot.name),
        # Each change beside the instant just before it: the diff page shows what it changed.
        "changes": [(c, c.valid_from - timedelta(microseconds=1)) for c in changes[:20]],
        "first": store.first_start(instrument),
    }
    if instrument.kind == Instrument.FPLANE:
        context["plot"] = focal_plane_plot(entries)
        shown = {p["state"] for p in context["plot"]}
        context["legend"] = {k: v for k, v in STATE_COLOURS.items() if k in shown}
    return render(request, "configs/instrument.html", context)


def unit_state(attributes: dict | None) -> str:
    if attributes is None:
        return "empty"
    if not attributes["active"]:
        return "inactive"
    return attributes["type"]


def focal_plane_plot(entries) -> list[dict]:
    """One point per seat of the plate at its position (measured when known), coloured by
    state."""
    points = []
    for slot in slot_names():
        entry = entries.get(slot)
        unit = entry.attributes if entry else None
        x, y = nominal_position(slot)
        if unit and unit.get("measured"):
            x, y = unit["measured"]["x"], unit["measured"]["y"]
        state = unit_state(unit)
        column, row = column_row(slot)
        label = f"IFUSLOT {slot}: column {column}, row {row}"
        if slot in LRS2:
            label += f" ({LRS2[slot]})"
        if unit:
            label += f"<br>{unit['type']} IFU {unit['ifuid']}"
            label += f"<br>spec {unit['specid']}/{unit['specslot']}"
        points.append(
            {
                "slot": slot,
                "x": x,
                "y": y,
                "state": state,
                "colour": STATE_COLOURS[state],
                "text": unit["ifuid"] if unit else "",
                "hover": label,
            }
        )
    return points


def slot(request, name, slot):
    instrument = instrument_for_user(request.user, name)
    slot = get_object_or_404(instrument.slots, name=slot)
    as_of, view, error = read_view(request, instrument)
    history = [
        (e, e.superseded_at is not None and (as_of is None or e.superseded_at <= as_of))
        for e in store.slot_history(slot, everything=True)
        if as_of is None or e.recorded_at <= as_of
    ]
    return render(
        request,
        "configs/slot.html",
        {"instrument": instrument, "slot": slot, "history": history, "view": view, "error": error},
    )


def diff(request, name):
    instrument = instrument_for_user(request.user, name)
    before, error_from = read_date(request, "from", instrument)
    after, error_to = read_date(request, "to", instrument)
    as_of, view, view_error = read_view(request, instrument)
    return render(
        request,
        "configs/diff.html",
        {
            "instrument": instrument,
            "before": before,
            "after": after,
            "view": view,
            "params": {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")},
            "error": error_from or error_to or view_error,
            "rows": [
                {**row, "texts": text_diffs(row)}
                for row in store.diff(instrument, before, after, as_of, entries=True)
            ],
        },
    )


def text_diffs(row: dict) -> list[dict]:
    """For each long text of a slot that changed (an archived .xcfg file): its lines
    compared, as ``diff -u`` prints them."""
    found = []
    for key in row["fields"]:
        a, b = (row[side].get(key) if row[side] else None for side in ("before", "after"))
        if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            lines = difflib.unified_diff(
                a.splitlines(), b.splitlines(), f"before/{key}", f"after/{key}", lineterm=""
            )
            found.append({"key": key, "diff": "\n".join(lines)})
    return found


def attribute(request, name, entry, key):
    """One attribute of an archived entry as a file (the whole .xcfg text the pages fold)."""
    instrument = instrument_for_user(request.user, name)
    entry = get_object_or_404(
        ConfigEntry.objects.select_related("slot"), pk=entry, slot__instrument=instrument
    )
    value = entry.attributes.get(key) if isinstance(entry.attributes, dict) else None
    if not isinstance(value, str):
        raise Http404("no such text")
    response = HttpResponse(value, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, attribute_filename(entry, key)
    )
    return response


def attribute_filename(entry: ConfigEntry, key: str) -> str:
    """``ecc0-configure-beam.xcfg`` for an archived .xcfg file, ``SLOT-KEY.txt`` otherwise."""
    step = key.removesuffix("_xcfg")
    if step != key and isinstance(entry.attributes.get(step), str):
        name = f"{entry.slot.name}-{step}-{entry.attributes[step]}.xcfg"
    else:
        name = f"{entry.slot.name}-{key}.txt"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
