from django.urls import path

from beamtime.configs import rest, views

app_name = "configs"

urlpatterns = [
    path("configs/", views.index, name="index"),
    path("configs/<slug:name>/", views.instrument, name="instrument"),
    path("configs/<slug:name>/diff/", views.diff, name="diff"),
    path("configs/<slug:name>/slots/<str:slot>/", views.slot, name="slot"),
    path(
        "configs/<slug:name>/entries/<int:entry>/<str:key>",
        views.attribute,
        name="attribute",
    ),
]

# The FPlane service's own URLs, unchanged for existing clients.
fplane_urlpatterns = [
    path("fplane", rest.fplane_update, name="fplane-update"),
    # POST /fplane/ is the same update as POST /fplane (clients add the slash).
    path("fplane/", rest.fplane_update, name="fplane-current"),
    *(
        path(f"fplane/{name}", rest.download_client, {"name": name}, name=name)
        for name in ("get_fplane.sh", "get_fplane.py")
    ),
    path("fplane/<str:datestr>", rest.fplane_file, name="fplane-at"),
]
