"""Migration 0002: stored models keep the interfaces their users entered.

Before it, a row's roughness was the interface on its back side (the front medium's was
front/layer 1) and refl1d got ``front | layers | back``, i.e. computed the sample with the beam
coming through the substrate. The check here is physical: after the migration, the model
seen from the substrate side (``reversed()``) gives exactly what the old code computed — a
refl1d stack written by hand as the old code built it — so every interface kept its roughness.
"""

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from refl1d.names import SLD, Experiment, QProbe

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData
from beamtime.fitting.models import FitJob, SavedModel

BEFORE, AFTER = [("fitting", "0001_initial")], [("fitting", "0002_roughness_on_the_front_side")]

OLD = {  # as the old form stored it: roughness on each row's back side, none on the back
    "front": {"name": "air", "sld": 0.0, "roughness": 2.0},
    "layers": [
        {"name": "B", "thickness": 44.75, "sld": 5.912, "roughness": 1.0},
        {
            "name": "A",
            "thickness": 577.6,
            "sld": 9.436,
            "roughness": {"value": 9.977, "free": True, "min": 5.0, "max": 15.0},
        },
    ],
    "back": {"name": "Si", "sld": 2.07},
    "constraints": {"B.roughness": "0.5 * air.roughness"},
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_stored_models_keep_their_interfaces():
    old_apps = migrate(BEFORE)
    try:
        user = old_apps.get_model("auth", "User").objects.create(username="ada")
        dataset = old_apps.get_model("fitting", "Dataset").objects.create(
            owner=user, name="d", content="0.01 1 0.1\n", points=1
        )
        old_apps.get_model("fitting", "SavedModel").objects.create(owner=user, model=OLD)
        absorbing = {
            **OLD,
            "front": {**OLD["front"], "isld": {"value": 0.5, "free": True, "min": 0, "max": 1}},
            "constraints": {"A.sld": "9 + air.isld", "air.isld": "0.5"},
        }
        old_apps.get_model("fitting", "SavedModel").objects.create(
            owner=user, title="absorbing", model=absorbing
        )
        old_apps.get_model("fitting", "FitJob").objects.create(
            owner=user,
            dataset=dataset,
            model=OLD,
            engine="lm",
            shared=["A.roughness"],
            partners=[{"dataset": dataset.pk, "model": OLD}],
            result={
                "values": {"1: A roughness": 9.9, "1: B thickness": 44.0, "2: B roughness": 1.1},
                "errors": {"1: A roughness": 0.1, "1: B thickness": 0.2, "2: B roughness": 0.3},
                "chisq": 1.0,
                "model": OLD,
                "models": [OLD, OLD],
            },
        )
    finally:
        migrate(AFTER)

    # refl1d ignores the front medium's absorption: it becomes 0, its value kept in expressions.
    absorbing = SavedModel.objects.get(title="absorbing").layer_model()
    assert absorbing.front.isld.value == 0 and not absorbing.front.isld.free
    assert absorbing.constraints == {"A.sld": "9 + 0.5"}

    saved = SavedModel.objects.get(title="")
    model = saved.layer_model()
    assert [(row.name, row.roughness.value) for row in model.all_layers()] == [
        ("air", 0.0),  # the front medium has none
        ("B", 2.0),  # air/B, stored on the front medium before
        ("A", 1.0),  # B/A
        ("Si", 9.977),  # A/Si, with its range
    ]
    assert (model.back.roughness.free, model.back.roughness.min) == (True, 5.0)
    assert model.constraints == {"A.roughness": "0.5 * B.roughness"}  # the same interfaces

    # What the old code computed: refl1d's stack front | layers | back, beam from the Si.
    model.constraints = {}
    q = np.linspace(0.005, 0.2, 200)
    old_stack = (
        SLD("air", rho=0.0)(0, 2.0)
        | SLD("B", rho=5.912)(44.75, 1.0)
        | SLD("A", rho=9.436)(577.6, 9.977)
        | SLD("Si", rho=2.07)
    )
    old_r = Experiment(probe=QProbe(q, 0 * q), sample=old_stack).reflectivity()[1]
    data = ReflData(q, np.ones_like(q), np.ones_like(q), None)
    np.testing.assert_allclose(refl1d_adapter.evaluate(model.reversed(), data).r, old_r, rtol=1e-10)

    job = FitJob.objects.get()
    assert job.model == saved.model and job.result["model"] == saved.model
    assert job.partners[0]["model"] == saved.model and job.result["models"][1] == saved.model
    assert job.shared == ["Si.roughness"]
    assert job.result["values"] == {
        "1: Si roughness": 9.9,
        "1: B thickness": 44.0,
        "2: A roughness": 1.1,
    }
    assert set(job.result["errors"]) == set(job.result["values"])


@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_too():
    from django.apps import apps as current

    old_apps = migrate(BEFORE)
    try:
        user = old_apps.get_model("auth", "User").objects.create(username="ada")
        old_apps.get_model("fitting", "SavedModel").objects.create(owner=user, model=OLD)
        migrate(AFTER)
        migrate(BEFORE)
        back = current.get_model("fitting", "SavedModel").objects.values_list("model", flat=True)
        stored = back.get()
        assert [row.get("roughness") for row in [stored["front"], *stored["layers"]]] == [
            {"value": 2.0},
            {"value": 1.0},
            {"value": 9.977, "free": True, "min": 5.0, "max": 15.0},
        ]
        assert stored["constraints"] == OLD["constraints"]
    finally:
        migrate(AFTER)
