from django.urls import path

from beamtime.reduction import views

app_name = "reduction"

urlpatterns = [
    path("", views.editor, name="editor"),
]
