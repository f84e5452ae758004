import pytest

from tests.factory import PASSWORD


@pytest.mark.django_db
class TestLogin:
    def test_pages_send_anonymous_users_to_the_login_page(self, client):
        for path in ["/", "/daq/", "/fitting/", "/accounts/keys/"]:
            response = client.get(path)
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/?next=")

    def test_it_logs_in_with_the_right_password(self, client, alice):
        response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/").status_code == 200

    def test_a_wrong_password_and_an_unknown_user_get_the_same_message(self, client, alice):
        wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
        unknown = client.post("/accounts/login/", {"username": "mallory", "password": "nope"})
        assert wrong.status_code == unknown.status_code == 200
        wrong_errors = wrong.context["form"].non_field_errors()
        assert wrong_errors == unknown.context["form"].non_field_errors()
        assert "correct username and password" in wrong.content.decode()

    def test_logout_needs_post_and_ends_the_session(self, client, alice):
        client.force_login(alice)
        assert client.get("/accounts/logout/").status_code == 405
        client.post("/accounts/logout/")
        assert client.get("/").status_code == 302

    def test_it_changes_the_password(self, client, alice):
        client.force_login(alice)
        new = "a much longer new passphrase"
        response = client.post(
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302
        alice.refresh_from_db()
        assert alice.check_password(new)

    def test_a_wrong_old_password_keeps_the_password(self, client, alice):
        client.force_login(alice)
        new = "a much longer new passphrase"
        response = client.post(
            "/accounts/password/",
            {"old_password": "wrong", "new_password1": new, "new_password2": new},
        )
        assert "old password was entered incorrectly" in response.content.decode()
        alice.refresh_from_db()
        assert alice.check_password(PASSWORD)


@pytest.mark.django_db
class TestSiteShell:
    def test_every_page_links_the_four_systems(self, client, alice):
        client.force_login(alice)
        page = client.get("/").content.decode()
        for path in ["/daq/", "/configs/", "/reduction/", "/fitting/"]:
            assert f'href="{path}"' in page

    def test_it_serves_htmx_and_plotly_locally(self, client, alice):
        client.force_login(alice)
        page = client.get("/").content.decode()
        assert "/static/vendor/htmx.org/htmx.min.js" in page
        assert "/static/vendor/plotly.js-dist-min/plotly.min.js" in page
        assert "://" not in "".join(
            line for line in page.splitlines() if "<script" in line or "<link" in line
        )

    def test_unknown_sections_are_404(self, client, alice):
        client.force_login(alice)
        assert client.get("/nonsense/").status_code == 404

    def test_only_staff_see_the_administration_link(self, client, alice):
        client.force_login(alice)
        assert "/admin/" not in client.get("/").content.decode()
        alice.is_staff = True
        alice.save()
        assert "/admin/" in client.get("/").content.decode()


@pytest.mark.django_db
def test_first_start_creates_one_admin_with_a_random_password():
    from django.contrib.auth import get_user_model

    from beamtime.core.accounts import create_first_admin

    password = create_first_admin()
    admin = get_user_model().objects.get()
    assert admin.username == "admin" and admin.is_superuser
    assert admin.check_password(password)
    assert len(password) >= 16
    assert create_first_admin() is None
    assert get_user_model().objects.count() == 1
