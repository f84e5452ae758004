from django.contrib import admin
from django.urls import include, path

from beamtime.api import api

admin.site.site_header = "Beamtime administration"
admin.site.site_title = "Beamtime"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("beamtime.core.urls")),
]
