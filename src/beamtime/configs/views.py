from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from beamtime.configs import store
from beamtime.configs.dates import DateError, parse_datestr
from beamtime.configs.fplane import LRS2, column_row, nominal_position, slot_names
from beamtime.configs.models import Instrument
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


def instrument(request, name):
    instrument = instrument_for_user(request.user, name)
    when, error = read_date(request, "at", instrument)
    entries = store.configuration_at(instrument, when)
    context = {
        "instrument": instrument,
        "when": when,
        "at": request.GET.get("at", ""),
        "error": error,
        "entries": sorted(entries.values(), key=lambda e: e.slot.name),
        "changes": instrument.changes.select_related("made_by")[:20],
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
    return render(
        request,
        "configs/slot.html",
        {"instrument": instrument, "slot": slot, "history": store.slot_history(slot)},
    )


def diff(request, name):
    instrument = instrument_for_user(request.user, name)
    before, error_from = read_date(request, "from", instrument)
    after, error_to = read_date(request, "to", instrument)
    return render(
        request,
        "configs/diff.html",
        {
            "instrument": instrument,
            "before": before,
            "after": after,
            "params": {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")},
            "error": error_from or error_to,
            "rows": store.diff(instrument, before, after),
        },
    )
