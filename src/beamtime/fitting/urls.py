from django.urls import path

from beamtime.fitting import views

app_name = "fitting"

urlpatterns = [
    path("fitting/", views.index, name="index"),
    path("fitting/upload", views.upload, name="upload"),
    path("fitting/upload-polarized", views.upload_polarized, name="upload-polarized"),
    path("fitting/data/<int:pk>/", views.dataset_edit, name="dataset"),
    path("fit/<slug:instrument>/<int:data_id>", views.fit_page, name="fit"),
    path(
        "fit/<slug:instrument>/<int:data_id>/evaluate",
        views.evaluate_in_place,
        name="evaluate",
    ),
    path("fitting/jobs/<int:pk>/", views.job_page, name="job"),
    path("fitting/jobs/<int:pk>/panel", views.job_panel, name="job-panel"),
    path("fitting/jobs/<int:pk>/cancel", views.cancel_job, name="cancel-job"),
    path("fitting/jobs/<int:pk>/csv", views.job_csv, name="job-csv"),
    path("fitting/jobs/<int:pk>/draws.csv", views.job_draws, name="job-draws"),
    path(
        "fitting/jobs/<int:pk>/posterior/<slug:name>.<slug:fmt>",
        views.job_figure,
        name="job-figure",
    ),
    path("fitting/jobs/<int:pk>/save", views.save_job_model, name="save-job-model"),
    path("fitting/models/", views.saved_models, name="models"),
    path("fitting/models/import", views.import_model, name="import-model"),
    path("fitting/tools/", views.tools, name="tools"),
    path("fitting/models/<int:pk>/", views.saved_model_edit, name="model"),
    path("fitting/models/<int:pk>/script", views.saved_model_script, name="model-script"),
]
