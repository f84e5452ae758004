import pytest


@pytest.mark.django_db(transaction=True)
def test_it_reports_all_green_with_redis_and_a_worker(client, celery_worker):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert any(name.startswith("beamtime@") for name in body["workers"]["workers"])


@pytest.mark.django_db
def test_it_reports_an_unreachable_redis_with_503(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["ok"] is False
    assert body["redis"]["ok"] is False and "127.0.0.1:1" in body["redis"]["error"]
    assert body["workers"]["ok"] is False
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_it_needs_no_login(client):
    assert client.get("/healthz").status_code in (200, 503)
