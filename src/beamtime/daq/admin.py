from django.contrib import admin

from beamtime.daq.models import (
    Alarm,
    DataRouter,
    DataSource,
    ECCServer,
    Experiment,
    LogEntry,
    Observable,
    RunMetadata,
)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    filter_horizontal = ["members", "coordinators"]


@admin.register(ECCServer)
class ECCServerAdmin(admin.ModelAdmin):
    list_display = ["name", "experiment", "ip_address", "port", "state", "is_online"]
    list_filter = ["experiment"]


@admin.register(DataRouter)
class DataRouterAdmin(admin.ModelAdmin):
    list_display = ["name", "experiment", "ip_address", "port", "connection_type"]
    list_filter = ["experiment"]


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "experiment", "ecc_server", "data_router"]
    list_filter = ["experiment"]


@admin.register(Observable)
class ObservableAdmin(admin.ModelAdmin):
    list_display = ["name", "experiment", "value_type", "units", "order", "is_hidden"]
    list_filter = ["experiment"]


@admin.register(RunMetadata)
class RunAdmin(admin.ModelAdmin):
    list_display = ["run_number", "experiment", "state", "run_class", "title", "start_datetime"]
    list_filter = ["experiment", "state", "run_class"]
    readonly_fields = ["experiment", "run_number", "state", "abort_reason", "configs"]


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "experiment", "source", "message"]
    list_filter = ["experiment", "source"]


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = ["raised_at", "experiment", "message", "cleared_at", "acknowledged_at"]
    list_filter = ["experiment"]
