from django.urls import path

from beamtime.daq import setup_views, views

app_name = "daq"

urlpatterns = [
    path("", views.status_page, name="status"),
    path("panels", views.panels, name="panels"),
    path("actions/<slug:action>", views.global_action, name="action"),
    path("servers/<int:pk>/actions/<slug:action>", views.server_action, name="server-action"),
    path("servers/<int:pk>/config", views.choose_config, name="choose-config"),
    path("routers/<int:pk>/retry", views.retry_filing, name="retry-filing"),
    path("log/clear", views.clear_log, name="clear-log"),
    path("alarms/<int:pk>/acknowledge", views.acknowledge_alarm, name="acknowledge-alarm"),
    path("<slug:kind>/<int:pk>/log", views.log_tail, name="log-tail"),
    path("setup/easy", views.easy_setup_page, name="easy-setup"),
    path("run-limit", views.run_limit_page, name="run-limit"),
    *setup_views.component_urls(),
    path("experiments/", setup_views.experiments, name="experiments"),
    path("experiments/<int:pk>/activate", setup_views.activate, name="activate-experiment"),
    path("runs/", views.run_list, name="runs"),
    path("observables/", views.observables, name="observables"),
    path("observables/order", views.observables_order, name="observables-order"),
    path("observables/<int:pk>/", views.observable_edit, name="observable"),
    path("observables/<int:pk>/chart", views.observable_chart, name="observable-chart"),
    path("runs.csv", views.run_list_csv, name="runs-csv"),
    path("runs/latest", views.run_sheet, name="run-sheet-latest"),
    path("runs/<int:number>", views.run_sheet, name="run-sheet"),
    path("runs/<int:number>/files", views.run_files_page, name="run-files"),
    path("runs/<int:a>/diff/<int:b>", views.run_diff_page, name="run-diff"),
]
