"""The data migration that gives stored slots HETDEX's column/row meaning (0003)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("configs", "0002_hetdex_focal_plane")]
AFTER = [("configs", "0003_hetdex_ifuslot_column_row")]
T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    migrate(executor_leaf())


def executor_leaf():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def record(apps, source: str, slots: list[str]):
    Instrument, Slot = apps.get_model("configs", "Instrument"), apps.get_model("configs", "Slot")
    Change, Entry = apps.get_model("configs", "Change"), apps.get_model("configs", "ConfigEntry")
    hetdex, _ = Instrument.objects.get_or_create(name="hetdex", defaults={"title": "HETDEX"})
    change = Change.objects.create(instrument=hetdex, valid_from=T0, source=source)
    for name in slots:
        slot, _ = Slot.objects.get_or_create(instrument=hetdex, name=name)
        slot.attributes = {"x": 0.0, "y": 0.0}  # the old, wrong nominal position
        slot.save()
        Entry.objects.create(
            slot=slot, attributes={"ifuid": "024"}, valid_from=T0, opened_by=change
        )


def test_seats_get_their_column_row_and_position_and_recorded_history_is_kept(old_apps):
    record(old_apps, "api", ["013", "001"])  # 001 was a slot of the old grid, not a seat
    Slot = migrate(AFTER).get_model("configs", "Slot")
    slots = {s.name: s for s in Slot.objects.filter(instrument__name="hetdex")}
    assert slots["013"].attributes == {"column": 1, "row": 3, "x": -450.0, "y": 150.0}
    assert slots["103"].attributes == {"column": 10, "row": 3, "x": 450.0, "y": 150.0}
    assert slots["013"].entries.count() == 1
    assert slots["001"].attributes == {"seat": False} and slots["001"].entries.count() == 1
    assert "000" not in slots and "099" not in slots  # old grid slots that never held a unit
    assert len(slots) == 84 + 1


def test_a_history_made_only_by_the_demo_is_removed_for_load_demo_to_rebuild(old_apps):
    record(old_apps, "demo", ["013", "001"])
    apps = migrate(AFTER)
    assert not apps.get_model("configs", "Change").objects.exists()
    assert apps.get_model("configs", "Slot").objects.filter(instrument__name="hetdex").count() == 84


def test_existing_archives_are_marked_also_one_whose_experiment_is_gone(transactional_db):
    daq = [node for node in executor_leaf() if node[0] == "daq"]
    apps = migrate([("configs", "0006_change_boundary_indexes"), *daq])
    try:
        Instrument, Change = (
            apps.get_model("configs", "Instrument"),
            apps.get_model("configs", "Change"),
        )
        Experiment = apps.get_model("daq", "Experiment")
        linked, orphan, facility = (
            Instrument.objects.create(name=n, title=n) for n in ("ecc-a", "ecc-b", "hetdex")
        )
        Experiment.objects.create(name="a", config_instrument=linked)
        Change.objects.create(instrument=orphan, valid_from=T0, source="daq")
        Change.objects.create(instrument=facility, valid_from=T0, source="api")
        Instrument = migrate([("configs", "0007_instrument_is_archive"), *daq]).get_model(
            "configs", "Instrument"
        )
        marked = dict(Instrument.objects.values_list("name", "is_archive"))
        assert marked == {"ecc-a": True, "ecc-b": True, "hetdex": False}
    finally:
        migrate(executor_leaf())
