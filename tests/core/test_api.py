import pytest


@pytest.mark.django_db
class TestApiRoot:
    def test_it_describes_itself_without_a_key(self, client):
        body = client.get("/api/").json()
        assert body["name"] == "Beamtime"
        assert body["openapi"].endswith("/api/openapi.json")

    def test_it_serves_openapi_with_the_key_scheme(self, client):
        schema = client.get("/api/openapi.json").json()
        assert "/api/keys" in schema["paths"]
        schemes = schema["components"]["securitySchemes"]
        assert any(s.get("scheme") == "bearer" for s in schemes.values())

    def test_the_docs_page_loads_its_assets_locally(self, client):
        page = client.get("/api/docs").content.decode()
        assert "swagger-ui" in page
        assert "cdn" not in page.lower()

    def test_unknown_api_paths_answer_404(self, client):
        assert client.get("/api/no-such-thing").status_code == 404

    def test_endpoints_need_authentication(self, client):
        response = client.get("/api/me")
        assert response.status_code == 401
        assert response.json()["error"].startswith("authentication required")
