import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from beamtime.fitting.models import Dataset, FitJob, SavedModel
from tests.conftest import SHARED
from tests.fitting.test_layers import session_model

pytestmark = pytest.mark.django_db

DOUBLE_LAYER = (SHARED / "data" / "reflectivity" / "double_layer.txt").read_bytes()


def upload(client, content: bytes, name="double_layer.txt"):
    return client.post("/fitting/upload", {"file": SimpleUploadedFile(name, content)}, follow=True)


def editor_post(model: dict, action="evaluate", **extra) -> dict:
    """The fit page's form for a model dict like session_model()."""
    count = str(len(model["layers"]))
    post = {"action": action, "layer-TOTAL_FORMS": count, "layer-INITIAL_FORMS": count}
    post |= {"q_min": "0", "q_max": "1"}

    def put(prefix, name, value):
        if isinstance(value, dict):
            post[f"{prefix}-{name}-value"] = str(value["value"])
            if value.get("free"):
                post[f"{prefix}-{name}-free"] = "on"
                post[f"{prefix}-{name}-min"], post[f"{prefix}-{name}-max"] = (
                    str(value["min"]),
                    str(value["max"]),
                )
        else:
            post[f"{prefix}-{name}-value"] = str(value)

    for prefix, layer, params in [
        # The page's rows: the front medium has an SLD only, the back medium a roughness too.
        ("front", model["front"], ("sld",)),
        *(
            (f"layer-{i}", layer, ("thickness", "sld", "isld", "roughness"))
            for i, layer in enumerate(model["layers"])
        ),
        ("back", model["back"], ("sld", "isld", "roughness")),
    ]:
        post[f"{prefix}-name"] = layer["name"]
        for name in params:
            put(prefix, name, layer.get(name, 0.0))
    for i, _ in enumerate(model["layers"]):
        post[f"layer-{i}-number"] = str(i + 1)
    put("scale", "", 1.0)
    post["scale-value"] = post.pop("scale--value")
    post["background-value"] = "0"
    return post | extra


def row_names(response) -> list[str]:
    """The names in the editor's rows, front to back, as the page shows them."""
    return [row["form"]["name"].value() for row in response.context["editor"].rows()]


@pytest.fixture
def dataset(client, alice):
    client.force_login(alice)
    upload(client, DOUBLE_LAYER)
    return Dataset.objects.get()


def test_an_upload_opens_the_fit_page_with_the_default_model(client, alice):
    client.force_login(alice)
    response = upload(client, DOUBLE_LAYER)
    assert response.redirect_chain[-1][0].startswith("/fit/upload/")
    page = response.content.decode()
    assert "300 points" in page and 'value="material"' in page and "χ² =" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"0.01 1 0.1\n0.02 abc 0.1\n", "line 2: column 2 (R) &#x27;abc&#x27; is not a number"),
        (b"\x00\x01binary", "not a text file"),
        (b"0.02 1 0.1\n0.01 1 0.1\n", "line 2: Q 0.01 is less than the Q before it"),
    ],
)
def test_bad_files_are_refused_with_the_line(client, alice, content, message):
    client.force_login(alice)
    page = upload(client, content).content.decode()
    assert message in page
    assert not Dataset.objects.exists()


def test_evaluate_shows_the_chisq_of_the_model(client, dataset):
    model = session_model()
    model["layers"][0]["thickness"] = 44.75
    model["layers"][1]["thickness"] = 577.6
    response = client.post(f"/fit/upload/{dataset.pk}", editor_post(model))
    assert response.context["chisq"] == pytest.approx(0.86, abs=0.02)
    assert response.context["plot"]["curve"]["q"][0] == pytest.approx(0.008)


def test_evaluate_in_place_answers_the_curve_as_json(client, dataset):
    """The fit page's Evaluate button posts here and redraws without a reload; the χ² is the
    one the shared README gives for refl1d's LM solution (0.862)."""
    model = session_model()
    model["layers"][0]["thickness"] = 44.83
    model["layers"][1]["thickness"] = 577.57
    response = client.post(f"/fit/upload/{dataset.pk}/evaluate", editor_post(model))
    assert response.status_code == 200
    answer = response.json()
    assert answer["chisq"] == pytest.approx(0.862, abs=0.01)
    assert answer["curve"]["q"][0] == pytest.approx(0.008)
    assert len(answer["curve"]["profile_z"]) == len(answer["curve"]["profile_sld"]) > 0


def test_evaluate_in_place_names_the_field_of_a_mistake(client, dataset, bob):
    model = session_model()
    model["layers"][1]["thickness"] = {"value": 500, "free": True, "min": 600, "max": 400}
    response = client.post(f"/fit/upload/{dataset.pk}/evaluate", editor_post(model))
    assert response.status_code == 400
    assert response.json()["error"].startswith("layer 2 (A) thickness maximum:")
    assert response.json()["field"] == "layer-1-thickness-max"  # the input to mark
    assert response.json()["errors"] == {
        "layer-1-thickness-max": "the maximum 400 must exceed the minimum 600"
    }
    post = editor_post(session_model()) | {
        "layer-0-thickness-value": "abc",
        "back-roughness-value": "",
        "q_max": "1" + "0" * 400,
    }
    answer = client.post(f"/fit/upload/{dataset.pk}/evaluate", post).json()
    assert answer["error"] == "layer 1 (B) thickness: 'abc' is not a number"
    assert answer["field"] == "layer-0-thickness-value"
    assert answer["errors"] == {  # every mistake at once, each on its input
        "layer-0-thickness-value": "not a number",
        "back-roughness-value": "give a number",
        "q_max": "not a number",
    }
    assert client.get(f"/fit/upload/{dataset.pk}/evaluate").status_code == 405
    client.force_login(bob)  # another user's data set: not found
    assert client.post(f"/fit/upload/{dataset.pk}/evaluate", editor_post(model)).status_code == 404


def test_a_bad_model_is_explained_in_words_and_kept_as_typed(client, dataset):
    model = session_model()
    model["layers"][1]["thickness"] = {"value": 500, "free": True, "min": 600, "max": 400}
    response = client.post(f"/fit/upload/{dataset.pk}", editor_post(model))
    assert response.context["error"].startswith(
        "layer 2 (A) thickness maximum: the maximum 400 must exceed"
    )
    assert 'value="600"' in response.content.decode()


def test_layers_are_added_removed_and_reordered(client, dataset):
    post = editor_post(session_model(), action="add_layer")
    names = row_names(client.post(f"/fit/upload/{dataset.pk}", post))
    assert names == ["air", "B", "A", "material", "Si"]
    post = editor_post(session_model()) | {"layer-0-number": "5", "layer-1-DELETE": "on"}
    names = row_names(client.post(f"/fit/upload/{dataset.pk}", post))
    assert names == ["air", "B", "Si"]
    post = editor_post(session_model()) | {"layer-0-number": "5"}
    names = row_names(client.post(f"/fit/upload/{dataset.pk}", post))
    assert names == ["air", "A", "B", "Si"]


def test_a_fit_needs_a_free_parameter(client, dataset):
    model = session_model()
    model["layers"][0]["thickness"] = 40
    model["layers"][1]["thickness"] = 500
    response = client.post(f"/fit/upload/{dataset.pk}", editor_post(model, action="fit"))
    assert "free at least one parameter" in response.context["error"]
    assert not FitJob.objects.exists()


def test_save_apply_reverse_and_download_a_model(client, dataset, alice):
    client.post(
        f"/fit/upload/{dataset.pk}",
        editor_post(session_model(), action="save", title="double layer"),
    )
    saved = SavedModel.objects.get()
    assert (saved.title, saved.layer_names()) == ("double layer", "air, B, A, Si")
    page = client.get(f"/fit/upload/{dataset.pk}?model={saved.pk}")
    assert row_names(page) == ["air", "B", "A", "Si"]
    client.post(f"/fitting/models/{saved.pk}/", {"reverse": "1"})
    assert SavedModel.objects.get(title="double layer (reversed)").layer_names() == "Si, A, B, air"
    script = client.get(f"/fitting/models/{saved.pk}/script")
    assert script["Content-Disposition"] == f'attachment; filename="model-{saved.pk}.py"'
    assert "problem = FitProblem" in script.content.decode()


def test_charlie_sees_none_of_alices_things(client, dataset, charlie):
    saved = SavedModel.objects.create(owner=dataset.owner, model=session_model())
    job = FitJob.objects.create(
        owner=dataset.owner, dataset=dataset, model=session_model(), engine="lm"
    )
    client.force_login(charlie)
    assert "double_layer" not in client.get("/fitting/").content.decode()
    for path in [
        f"/fit/upload/{dataset.pk}",
        f"/fitting/data/{dataset.pk}/",
        f"/fitting/jobs/{job.pk}/",
        f"/fitting/jobs/{job.pk}/panel",
        f"/fitting/jobs/{job.pk}/csv",
        f"/fitting/models/{saved.pk}/",
        f"/fitting/models/{saved.pk}/script",
    ]:
        assert client.get(path).status_code == 404, path
    assert client.post(f"/fitting/data/{dataset.pk}/", {"delete": "1"}).status_code == 404
    assert client.post(f"/fitting/jobs/{job.pk}/cancel").status_code == 404
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_datasets_are_renamed_tagged_searched_and_deleted(client, dataset):
    client.post(f"/fitting/data/{dataset.pk}/", {"name": "Ni on Si", "tags": "ref_l, 2026"})
    assert "Ni on Si" in client.get("/fitting/?q=ref_l").content.decode()
    assert "Ni on Si" not in client.get("/fitting/?q=nothing").content.decode()
    client.post(f"/fitting/data/{dataset.pk}/", {"delete": "1"})
    assert not Dataset.objects.exists()


def test_a_data_set_name_is_cut_to_its_200_characters_on_every_page(client, alice):
    client.force_login(alice)
    client.post(
        "/fitting/upload",
        {"file": SimpleUploadedFile("double_layer.txt", DOUBLE_LAYER), "name": "u" * 1_000_000},
    )
    client.post("/fitting/upload", {"file": SimpleUploadedFile("d.txt", DOUBLE_LAYER), "name": " "})
    two = SimpleUploadedFile("two_pp.txt", DOUBLE_LAYER)
    client.post("/fitting/upload-polarized", {"files": two, "name": "p" * 1000})
    assert sorted(Dataset.objects.values_list("name", flat=True)) == sorted(
        ["u" * 200, "d.txt", "p" * 200]
    )
    dataset = Dataset.objects.get(name="d.txt")
    client.post(f"/fitting/data/{dataset.pk}/", {"name": "e" * 300})
    assert Dataset.objects.get(pk=dataset.pk).name == "e" * 200


def test_the_calculators_page(client, alice):
    client.force_login(alice)
    page = client.get("/fitting/tools/?formula=Si&density=2.33").content.decode()
    assert "2.07" in page
    page = client.get("/fitting/tools/?electrode=Li15Si4").content.decode()
    assert "3578.6 mAh/g" in page or "3579" in page
    both = client.get("/fitting/tools/?formula=Si&density=2.33&electrode=Li15Si4").content
    assert 'id="sld-result"' in both.decode() and 'id="capacity-result"' in both.decode()
    page = client.get("/fitting/tools/?formula=Xy2&density=1").content.decode()
    assert "formula: cannot read" in page
    page = client.get("/fitting/tools/?formula=Si&density=dense").content.decode()
    assert "density: &#x27;dense&#x27; is not a number" in page
    nested = "(" * 200 + "H" + ")" * 200  # was a RecursionError in the parser: a 500
    page = client.get("/fitting/tools/", {"formula": nested})
    assert "formula: longer than 200 characters" in page.content.decode()
    huge = {"electrode": "LiC6", "radius": "1e308", "thickness": "1e308", "film_density": "1"}
    page = client.get("/fitting/tools/", huge)  # was an OverflowError: a 500
    assert "radius: must be at most 100" in page.content.decode()
    assert 'aria-invalid="true"' in field_tag(page.content.decode(), "radius")
    assert 'aria-invalid="true"' not in field_tag(page.content.decode(), "thickness")
    page = client.get("/fitting/tools/", {"formula": "Si", "density": "dense"}).content.decode()
    assert 'aria-invalid="true"' in field_tag(page, "density")
    page = client.get("/fitting/tools/", huge | {"electrode": "Xy"}).content.decode()
    assert 'aria-invalid="true"' in field_tag(page, "electrode")


def test_constraints_from_the_form(client, dataset):
    model = session_model()
    model["layers"][0]["thickness"] = 40
    post = editor_post(model, constraints="B.thickness = 0.07754 * A.thickness\n# a comment\n")
    response = client.post(f"/fit/upload/{dataset.pk}", post)
    assert response.context["error"] == ""
    constraints = response.context["editor"].globals["constraints"].value()
    assert constraints == "B.thickness = 0.07754 * A.thickness"
    bad = client.post(
        f"/fit/upload/{dataset.pk}", editor_post(model, constraints="B.thickness = open('x')")
    )
    assert bad.context["error"].startswith("constraint on B.thickness:")
    assert "open" in bad.context["error"]
    bad = client.post(f"/fit/upload/{dataset.pk}", editor_post(model, constraints="B.thickness 3"))
    assert bad.context["error"].startswith("constraints: line 1: write TARGET = EXPRESSION")


def test_a_refl1d_script_uploads_as_a_saved_model(client, alice):
    from beamtime.fitting.layers import LayerModel
    from beamtime.fitting.refl1d_adapter import to_script

    client.force_login(alice)
    script = to_script(LayerModel.from_dict(session_model()), "data.txt").encode()
    response = client.post(
        "/fitting/models/import", {"script": SimpleUploadedFile("model.py", script)}
    )
    saved = SavedModel.objects.get()
    assert response["Location"] == f"/fitting/models/{saved.pk}/"
    assert saved.layer_names() == "air, B, A, Si" and saved.owner == alice
    bad = client.post(
        "/fitting/models/import", {"script": SimpleUploadedFile("x.py", b"sample = (")}, follow=True
    )
    assert "x.py: line 1: not Python" in bad.content.decode()
    assert SavedModel.objects.count() == 1


def test_what_cannot_be_shown_is_explained_not_a_500(client, dataset, alice):
    assert (
        "is not the number of a saved model"
        in client.get(f"/fit/upload/{dataset.pk}?model=abc").context["error"]
    )
    far = session_model() | {"q_min": 0.5, "q_max": 0.6}
    saved = SavedModel.objects.create(owner=alice, model=far)
    page = client.get(f"/fit/upload/{dataset.pk}?model={saved.pk}")
    assert page.status_code == 200
    assert page.context["error"] == "no data point lies in the Q range 0.5 to 0.6"
    assert row_names(page) == ["air", "B", "A", "Si"]


def test_an_impossible_constraint_is_explained_on_the_page(client, dataset):
    post = editor_post(session_model(), constraints="A.roughness = 1 / (B.thickness - 40)")
    page = client.post(f"/fit/upload/{dataset.pk}", post)
    assert page.context["error"] == (
        "constraint on A.roughness: 1 / (B.thickness - 40) cannot be computed "
        "(float division by zero)"
    )


def co_refined(owner, dataset, partners: list) -> FitJob:
    """A finished co-refinement of ``dataset`` with ``partners`` (data sets), all fitted with
    the session's model."""
    fitted = {"values": {}, "errors": {}, "chisq": 1.0, "model": session_model()}
    return FitJob.objects.create(
        owner=owner,
        dataset=dataset,
        model=session_model(),
        engine="lm",
        state="done",
        partners=[{"dataset": p.pk, "model": session_model()} for p in partners],
        result=fitted | {"models": [session_model()] * (1 + len(partners))},
    )


def test_a_co_refinement_whose_partner_was_deleted_still_shows(client, dataset, alice):
    upload(client, DOUBLE_LAYER, name="other.txt")
    other = Dataset.objects.get(name="other.txt")
    job = co_refined(alice, dataset, [other])
    other.delete()
    page = client.get(f"/fitting/jobs/{job.pk}/")
    assert page.status_code == 200
    assert "Data set 2 of this co-refinement has been deleted." in page.content.decode()


def test_a_co_refinement_made_before_the_limit_shows_its_first_ten_sets(client, dataset, alice):
    job = co_refined(alice, dataset, [dataset] * 30)
    for path in (f"/fitting/jobs/{job.pk}/", f"/fitting/jobs/{job.pk}/panel"):
        page = client.get(path)
        assert page.status_code == 200 and len(page.context["sets"]) == 10
        assert "The first 10 of its 31 data sets shown." in page.content.decode()


def test_a_broken_or_huge_layer_count_is_refused_at_once(client, dataset):
    import time

    post = editor_post(session_model()) | {"layer-TOTAL_FORMS": "abc"}
    page = client.post(f"/fit/upload/{dataset.pk}", post)
    assert page.status_code == 200
    assert page.context["error"] == "layer count: 'abc' is not a whole number (reload the page)"
    start = time.monotonic()
    page = client.post(f"/fit/upload/{dataset.pk}", post | {"layer-TOTAL_FORMS": "400000"})
    assert time.monotonic() - start < 2
    assert page.context["error"] == "400000 layers: a model has at most 100"
    page = client.post(f"/fit/upload/{dataset.pk}", post | {"layer-TOTAL_FORMS": "101"})
    assert page.context["error"] == "101 layers: a model has at most 100"
    # A form from before the formset (layer_count, no management form) is refused in words.
    old = {k: v for k, v in post.items() if not k.startswith("layer-")} | {"layer_count": "2"}
    page = client.post(f"/fit/upload/{dataset.pk}", old)
    assert page.context["error"] == "layer count: '' is not a whole number (reload the page)"


def test_an_export_naming_an_odd_instrument_uploads_and_lists(client, alice):
    import json

    header = {"template": {"instrument": "ncnr.refl/../x y"}, "config": {}, "node": 0}
    text = "# " + json.dumps(header | {"terminal": "output"}) + "\n" + DOUBLE_LAYER.decode()
    client.force_login(alice)
    response = upload(client, text.encode(), name="export.txt")
    dataset = Dataset.objects.get()
    assert dataset.instrument == "ncnr-refl-x-y"
    assert response.redirect_chain[-1][0] == f"/fit/ncnr-refl-x-y/{dataset.pk}"
    assert client.get("/fitting/").status_code == 200


def test_a_data_set_is_parsed_once_and_shared_read_only(dataset):
    first = Dataset.objects.get(pk=dataset.pk).data()
    assert Dataset.objects.get(pk=dataset.pk).data() is first
    with pytest.raises(ValueError):
        first.q[0] = 1.0


def test_the_resolution_is_what_the_uploader_says(client, alice):
    """double_layer.txt's 4th column is the FWHM; the same file with dQ as 1-σ, uploaded as
    1-σ, is the same measurement: the same χ² for the same model."""
    from beamtime.fitting.data import parse_data

    client.force_login(alice)
    rows = np.loadtxt(io.BytesIO(DOUBLE_LAYER))
    rows[:, 3] /= 2 * np.sqrt(2 * np.log(2))
    sigma_file = io.BytesIO()
    np.savetxt(sigma_file, rows, fmt="%.10e")
    client.post(
        "/fitting/upload",
        {
            "file": SimpleUploadedFile("sigma.txt", sigma_file.getvalue()),
            "dq_column": "sigma",
        },
    )
    upload(client, DOUBLE_LAYER)
    sigma, fwhm = (
        Dataset.objects.get(name="sigma.txt"),
        Dataset.objects.get(name="double_layer.txt"),
    )
    np.testing.assert_allclose(sigma.data().dq, fwhm.data().dq, rtol=1e-9)
    solution = session_model()
    solution["layers"][0]["thickness"], solution["layers"][1]["thickness"] = 44.75, 577.6
    chisq = [
        client.post(f"/fit/upload/{d.pk}", editor_post(solution)).context["chisq"]
        for d in (sigma, fwhm)
    ]
    assert chisq[0] == pytest.approx(chisq[1], rel=1e-9)
    # Three columns: refused without a resolution, kept with the one chosen.
    three = b"".join(line.rsplit(b" ", 1)[0] + b"\n" for line in DOUBLE_LAYER.splitlines())
    page = upload(client, three, name="three.txt").content.decode()
    assert "three.txt: 3 columns: there is no dQ, so say the resolution dQ/Q" in page
    client.post(
        "/fitting/upload",
        {"file": SimpleUploadedFile("three.txt", three), "dq_over_q": "0.025"},
    )
    three_data = Dataset.objects.get(name="three.txt").data()
    np.testing.assert_allclose(three_data.dq, 0.025 * parse_data(three).q)


def test_values_are_shown_with_the_digits_their_uncertainty_supports():
    from beamtime.fitting.views import with_uncertainty

    assert with_uncertainty(44.79190579078537, 0.1346898) == ("44.79", "0.13")
    assert with_uncertainty(577.5687, 0.0421) == ("577.569", "0.042")
    assert with_uncertainty(1234.5, 56.0) == ("1234", "56")
    assert with_uncertainty(0.5, float("nan")) == ("0.5", "–")


def field_tag(page: str, name: str) -> str:
    """The HTML of the input (or textarea) called ``name`` on a page."""
    import re

    return re.search(rf'<(?:input|textarea)[^>]*name="{re.escape(name)}"[^>]*>', page).group(0)


def test_the_page_marks_each_input_at_fault_and_keeps_it_as_typed(client, dataset):
    model = session_model()
    model["layers"][1]["thickness"] = {"value": 500, "free": True, "min": 600, "max": 400}
    page = client.post(f"/fit/upload/{dataset.pk}", editor_post(model)).content.decode()
    tag = field_tag(page, "layer-1-thickness-max")
    assert 'aria-invalid="true"' in tag and "invalid" in tag and 'value="400"' in tag
    assert "the maximum 400 must exceed the minimum 600</small>" in page
    assert "aria-invalid" not in field_tag(page, "layer-1-thickness-min")
    post = editor_post(session_model()) | {"layer-1-sld-value": "9.4.3", "scale-value": ""}
    page = client.post(f"/fit/upload/{dataset.pk}", post).content.decode()
    assert "layer 2 (A) SLD: &#x27;9.4.3&#x27; is not a number" in page  # the message on top
    for name in ("layer-1-sld-value", "scale-value"):
        assert 'aria-invalid="true"' in field_tag(page, name), name
    assert 'value="9.4.3"' in field_tag(page, "layer-1-sld-value")
    post = editor_post(session_model(), constraints="B.thickness 3")
    page = client.post(f"/fit/upload/{dataset.pk}", post).content.decode()
    assert 'aria-invalid="true"' in field_tag(page, "constraints")


def test_a_layer_is_removed_with_a_button_and_rows_are_a_formset(client, dataset):
    page = client.get(f"/fit/upload/{dataset.pk}").content.decode()
    assert '<button type="submit" name="layer-0-DELETE" value="on"' in page
    assert 'type="checkbox" name="layer-0-DELETE"' not in page and '-remove"' not in page
    assert 'name="layer-TOTAL_FORMS" value="1"' in page
    assert 'name="layer-MAX_NUM_FORMS" value="100"' in page
    # Pressing the button posts the form with it (no action): that layer goes, the rest stays.
    post = editor_post(session_model()) | {"layer-0-DELETE": "on"}
    del post["action"]
    response = client.post(f"/fit/upload/{dataset.pk}", post)
    assert row_names(response) == ["air", "A", "Si"]
    # A removed row is not checked: what it holds no longer matters.
    post |= {"layer-0-thickness-value": "abc"}
    assert client.post(f"/fit/upload/{dataset.pk}", post).context["error"] == ""


def test_every_posted_layer_row_is_read_and_the_maximum_holds(client, dataset):
    post = editor_post(session_model()) | {"layer-TOTAL_FORMS": "3", "layer-INITIAL_FORMS": "0"}
    error = client.post(f"/fit/upload/{dataset.pk}", post).context["error"]
    assert error == "layer 3 () name: give a name"  # a row left out is refused, not skipped
    model = session_model()
    model["layers"] = [
        {"name": f"L{i}", "thickness": 10.0, "sld": 1.0, "roughness": 1.0} for i in range(100)
    ]
    response = client.post(f"/fit/upload/{dataset.pk}", editor_post(model))
    assert response.context["error"] == "" and len(response.context["model"].layers) == 100
    full = client.post(f"/fit/upload/{dataset.pk}", editor_post(model, action="add_layer"))
    assert full.context["error"] == "layers: 101 layers, at most 100"


def test_the_saved_models_are_listed_in_a_known_order_only(client, alice):
    client.force_login(alice)
    for title in ("b", "a", "c"):
        SavedModel.objects.create(owner=alice, title=title, model=session_model())
    for order, titles in [
        ("title", ["a", "b", "c"]),
        ("-title", ["c", "b", "a"]),
        ("--title", ["c", "a", "b"]),  # not an ordering: the default, newest first
        ("-pk", ["c", "a", "b"]),
        ("", ["c", "a", "b"]),
    ]:
        page = client.get(f"/fitting/models/?order={order}")
        assert page.status_code == 200, order
        assert [m.title for m in page.context["models"]] == titles, order
