from django.contrib import admin
from django.urls import include, path

from beamtime.api import api
from beamtime.configs.urls import fplane_urlpatterns
from beamtime.core.forms import AdminLoginForm

admin.site.site_header = "Beamtime administration"
admin.site.site_title = "Beamtime"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("beamtime.configs.urls")),
    path("daq/", include("beamtime.daq.urls")),
    path("", include("beamtime.fitting.urls")),
    *fplane_urlpatterns,
    path("reduction/", include("beamtime.reduction.urls")),
    path("", include("beamtime.core.urls")),
]
