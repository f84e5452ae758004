from django.contrib import admin

from beamtime.daq.models import DataRouter, DataSource, ECCServer, Experiment, Observable


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    filter_horizontal = ["members"]


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
    list_display = ["name", "experiment", "value_type", "units", "order"]
    list_filter = ["experiment"]
