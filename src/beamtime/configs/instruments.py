"""Instruments Beamtime knows from the start."""

from beamtime.configs.fplane import column_row, nominal_position, slot_names

HETDEX = "hetdex"


def create_hetdex(Instrument, Slot):
    """The HETDEX focal plane with its slots; safe to call again. Takes the model classes so
    that the data migration can pass its historical models."""
    hetdex, _ = Instrument.objects.get_or_create(
        name=HETDEX,
        defaults={
            "title": "HETDEX focal plane",
            "kind": "fplane",
            "timezone": "America/Chicago",
            "description": "Which IFU sits in which focal-plane slot of the HET, and which "
            "spectrograph it feeds.",
        },
    )
    for name in slot_names():
        Slot.objects.update_or_create(
            instrument=hetdex, name=name, defaults={"attributes": seat_attributes(name)}
        )
    return hetdex


def seat_attributes(name: str) -> dict:
    """The fixed properties of a seat of the plate: column, row and nominal position."""
    (column, row), (x, y) = column_row(name), nominal_position(name)
    return {"column": column, "row": row, "x": x, "y": y}
