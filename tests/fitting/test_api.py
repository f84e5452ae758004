import math
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from beamtime.fitting.models import Dataset, FitJob, SavedModel
from tests.factory import make_api_key
from tests.fitting.test_layers import session_model
from tests.fitting.test_pages import DOUBLE_LAYER


def auth(user):
    return {"Authorization": f"Bearer {make_api_key(user)[1]}"}


def upload(client, headers, content=DOUBLE_LAYER):
    return client.post(
        "/api/fitting/datasets",
        {"file": SimpleUploadedFile("double_layer.txt", content)},
        headers=headers,
    )


@pytest.mark.django_db
class TestFittingApi:
    def test_upload_evaluate_and_list(self, client, alice):
        headers = auth(alice)
        created = upload(client, headers)
        assert created.status_code == 201 and created.json()["points"] == 300
        pk = created.json()["id"]
        model = session_model()
        model["layers"][0]["thickness"], model["layers"][1]["thickness"] = 44.75, 577.6
        curve = client.post(
            f"/api/fitting/datasets/{pk}/evaluate",
            {"model": model},
            content_type="application/json",
            headers=headers,
        ).json()
        assert curve["chisq"] == pytest.approx(0.86, abs=0.02) and len(curve["r"]) == 300
        assert [d["id"] for d in client.get("/api/fitting/datasets", headers=headers).json()] == [
            pk
        ]

    def test_bad_uploads_and_models_say_why(self, client, alice):
        headers = auth(alice)
        bad = upload(client, headers, b"0.01 1 0.1\n0.02 x 0.1\n")
        assert bad.status_code == 422 and "line 2" in bad.json()["error"]
        three = upload(client, headers, b"0.01 1 0.1\n0.02 0.5 0.1\n")
        assert three.status_code == 422 and "say the resolution dQ/Q" in three.json()["error"]
        three = client.post(
            "/api/fitting/datasets?dq_over_q=0.03",
            {"file": SimpleUploadedFile("three.txt", b"0.01 1 0.1\n0.02 0.5 0.1\n")},
            headers=headers,
        )
        assert three.status_code == 201
        assert Dataset.objects.get(pk=three.json()["id"]).data().dq.tolist() == [0.0003, 0.0006]
        pk = upload(client, headers).json()["id"]
        model = session_model()
        model["layers"][0]["name"] = "B-1"
        response = client.post(
            f"/api/fitting/datasets/{pk}/evaluate",
            {"model": model},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422 and response.json()["error"].startswith("layers.0.name")
        model = session_model() | {"constraints": {"A.roughness": "sqrt(B.thickness - 45)"}}
        response = client.post(
            f"/api/fitting/datasets/{pk}/evaluate",
            {"model": model},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422  # never a 500, never Infinity or NaN in the JSON
        assert response.json()["error"].startswith("constraint on A.roughness: sqrt(B.thickness")
        model = session_model()
        model["front"]["roughness"] = {"value": 0, "free": True, "min": 0, "max": 5}
        response = client.post(
            "/api/fitting/fits",
            {"dataset": pk, "model": model},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("front.roughness: the front medium has no")
        response = client.post(
            "/api/fitting/fits",
            {"dataset": pk, "model": session_model(), "engine": "magic"},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422 and not FitJob.objects.exists()
        for options, message in [
            ({"steps": 10**9}, "steps: a whole number from 1 to 1000000"),
            ({"pop": 5}, "options: unknown option 'pop'"),
        ]:
            response = client.post(
                "/api/fitting/fits",
                {"dataset": pk, "model": session_model(), "options": options},
                content_type="application/json",
                headers=headers,
            )
            assert response.status_code == 422 and response.json()["error"].startswith(message)
        assert not FitJob.objects.exists()

    def test_a_data_set_name_is_cut_to_its_200_characters(self, client, alice):
        long = "n" * 100_000
        created = client.post(
            "/api/fitting/datasets",
            {"file": SimpleUploadedFile("double_layer.txt", DOUBLE_LAYER)},
            query_params={"name": long},
            headers=auth(alice),
        )
        assert created.status_code == 201 and created.json()["name"] == "n" * 200
        assert Dataset.objects.get().name == "n" * 200

    def test_a_fit_frees_at_most_50_parameters(self, client, alice, redis_server):
        headers = auth(alice)
        pk = upload(client, headers).json()["id"]

        def free(value):
            return {"value": value, "free": True, "min": value / 2, "max": value * 2}

        def model(layers: int, back_free: bool) -> dict:  # 3 free per layer, 2 in the back
            rows = [
                {"name": f"L{n}", "thickness": free(50), "sld": free(2.0), "roughness": free(3)}
                for n in range(layers)
            ]
            back = {"name": "Si", "sld": free(2.07) if back_free else 2.07, "roughness": 1}
            back["roughness"] = free(1.0) if back_free else 1.0
            return {"front": {"name": "air"}, "layers": rows, "back": back}

        def submit(layers: int, back_free: bool):
            return client.post(
                "/api/fitting/fits",
                {"dataset": pk, "model": model(layers, back_free), "engine": "dream"},
                content_type="application/json",
                headers=headers,
            )

        refused = submit(17, False)  # 51 free
        assert refused.status_code == 422
        assert refused.json()["error"] == "fit: at most 50 free parameters in one fit, not 51"
        assert submit(16, True).status_code == 202  # 50 free
        assert FitJob.objects.count() == 1

    def test_an_unknown_engine_is_refused_with_its_name_shortened(self, client, alice):
        headers = auth(alice)
        pk = upload(client, headers).json()["id"]
        response = client.post(
            "/api/fitting/fits",
            {"dataset": pk, "model": session_model(), "engine": "x" * 1_000_000},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("engine: unknown engine 'xxx")
        assert len(response.json()["error"]) < 200

    def test_numbers_a_float_cannot_hold_are_refused_by_name(self, client, alice):
        headers = auth(alice)
        pk = upload(client, headers).json()["id"]
        huge = 10**400
        free = {"value": 1, "free": True, "min": 0, "max": huge}
        for change, field in [
            ({"scale": huge}, "scale.value"),
            ({"scale": free}, "scale.max"),
            ({"q_min": huge}, "q_min"),
            ({"angle": huge}, "angle"),
            ({"q_max": math.inf}, "q_max"),
            ({"scale": {"value": 1, "free": "no", "min": 0, "max": 2}}, "scale.free"),
        ]:
            model = session_model() | change
            for url, body in [
                (f"/api/fitting/datasets/{pk}/evaluate", {"model": model}),
                ("/api/fitting/models", {"model": model}),
                ("/api/fitting/fits", {"dataset": pk, "model": model}),
            ]:
                response = client.post(url, body, content_type="application/json", headers=headers)
                assert response.status_code == 422, (url, change)
                assert response.json()["error"].startswith(f"{field}: "), (url, change)
        model = session_model()
        model["layers"][0]["thickness"] = huge
        response = client.post(
            f"/api/fitting/datasets/{pk}/evaluate",
            {"model": model},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["error"].startswith("layers.0.thickness.value: is too large")
        assert not FitJob.objects.exists() and not SavedModel.objects.exists()

    def test_charlie_reaches_nothing_of_alices(self, client, alice, charlie):
        pk = upload(client, auth(alice)).json()["id"]
        job = FitJob.objects.create(
            owner=alice, dataset=Dataset.objects.get(), model=session_model(), engine="lm"
        )
        headers = auth(charlie)
        assert client.get("/api/fitting/datasets", headers=headers).json() == []
        assert (
            client.post(
                f"/api/fitting/datasets/{pk}/evaluate",
                {"model": session_model()},
                content_type="application/json",
                headers=headers,
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/api/fitting/fits",
                {"dataset": pk, "model": session_model()},
                content_type="application/json",
                headers=headers,
            ).status_code
            == 404
        )
        assert client.get(f"/api/fitting/fits/{job.pk}", headers=headers).status_code == 404
        assert client.delete(f"/api/fitting/datasets/{pk}", headers=headers).status_code == 404
        assert Dataset.objects.filter(pk=pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_fit_through_the_api(client, alice, celery_worker):
    headers = auth(alice)
    pk = upload(client, headers).json()["id"]
    submitted = client.post(
        "/api/fitting/fits",
        {"dataset": pk, "model": session_model(), "engine": "lm"},
        content_type="application/json",
        headers=headers,
    )
    assert submitted.status_code == 202
    for _ in range(300):
        job = client.get(f"/api/fitting/fits/{submitted.json()['id']}", headers=headers).json()
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["state"] == "done", job
    assert job["result"]["values"]["A thickness"] == pytest.approx(577.6, abs=2)


def test_openapi_describes_the_fit_submission(client):
    schema = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/fitting/fits"]["post"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert set(properties) == {"dataset", "model", "engine", "options"}
    assert "front side" in properties["model"]["description"]  # the orientation, documented
