from django.contrib.auth import views as auth_views
from django.urls import path

from beamtime.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/keys/", views.api_keys, name="api-keys"),
    path("accounts/keys/<int:key_id>/revoke", views.revoke_api_key, name="revoke-api-key"),
    # Until each system's app lands, its section shows what it will do.
    path("<slug:slug>/", views.system_placeholder, name="system"),
]
