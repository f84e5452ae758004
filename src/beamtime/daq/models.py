"""The DAQ as Beamtime models it: an experiment's ECC servers, data routers and data sources,
its numbered runs with their metadata and observables, and the error log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from beamtime.daq.ecc.protocol import ConfigId as EccConfigId
from beamtime.daq.ecc.protocol import DataLink, State

STATE_NAMES = {s.value: s.name.capitalize() for s in State}
MIXED, ERROR = -1, -2


class Experiment(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=False)
    # Members (shifters) run the controls and fill in the run sheet; coordinators also set
    # the experiment up (hosts, log files, Easy setup), delete observables and clear the log.
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="experiments"
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="coordinated_experiments"
    )
    # Where the ECC configurations of its runs are archived; readable by its people only.
    config_instrument = models.OneToOneField(
        "configs.Instrument",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="daq_experiment",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The one transition under way ("start", "stop", "ecc0: describe" …), claimed with a
    # conditional UPDATE (transitions.claim) and released when it ends.
    transition = models.CharField(max_length=150, blank=True)
    transition_started_at = models.DateTimeField(null=True, blank=True)
    # Run limits: a run that records this long is stopped (and the next one started).
    run_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    restart_after_limit = models.BooleanField(default=False)
    # Stop after this many bytes of run files in the routers' staging folders, too.
    run_limit_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # False: a run past its limit raises an alarm instead of being stopped.
    stop_at_limit = models.BooleanField(default=True)

    class Meta:
        ordering = ["-is_active", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_experiment"
            )
        ]

    def __str__(self):
        return self.name

    def is_member(self, user) -> bool:
        """Staff, members and coordinators see the experiment and run its controls (the rule
        is core.access.experiments_for_user's)."""
        from beamtime.core.access import experiments_for_user

        return experiments_for_user(user).filter(pk=self.pk).exists()

    def is_coordinator(self, user) -> bool:
        return bool(user.is_staff or self.coordinators.filter(pk=user.pk).exists())

    @property
    def latest_run(self):
        return self.runs.order_by("-run_number").first()

    @property
    def is_running(self) -> bool:
        run = self.latest_run
        return run is not None and run.stop_datetime is None

    def next_run_number(self) -> int:
        run = self.latest_run
        return 0 if run is None else run.run_number + 1


class ECCServer(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="ecc_servers")
    name = models.CharField(max_length=100)
    ip_address = models.CharField("host", max_length=255)
    port = models.PositiveIntegerField(default=8083)
    log_path = models.CharField(max_length=500, blank=True)
    selected_config = models.ForeignKey(
        "ConfigId", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.IntegerField(
        choices=[(s.value, s.name.capitalize()) for s in State], default=State.IDLE
    )
    is_transitioning = models.BooleanField(default=False)
    # The state the DAQ last asked for: an error clears itself once the server is there.
    target_state = models.IntegerField(null=True, blank=True)
    is_online = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "ECC server"
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_ecc_server_name")
        ]

    def __str__(self):
        return self.name

    @property
    def url(self) -> str:
        return f"http://{self.ip_address}:{self.port}/"

    def last_seen_offline(self) -> bool:
        """True if the log's last word about this server is that it went offline."""
        last = (
            LogEntry.objects.filter(experiment_id=self.experiment_id, source=self.name)
            .filter(Q(message__startswith="went offline") | Q(message__startswith="back online"))
            .order_by("-pk")
            .first()
        )
        return last is not None and last.message.startswith("went offline")

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def data_links(self) -> list[DataLink]:
        """The data sources' links (fetched with the server by ``with_links``)."""
        return [
            DataLink(
                s.name,
                s.data_router.name,
                s.data_router.ip_address,
                s.data_router.port,
                s.data_router.connection_type,
            )
            for s in self.data_sources.all()
        ]

    def to_dict(self) -> dict:
        """One of the ``individual_results`` of the status API."""
        return {
            "success": not self.error_message,
            "pk": self.pk,
            "name": self.name,
            "error_message": self.error_message,
            "state": self.state,
            "state_name": self.state_name,
            "transitioning": self.is_transitioning,
            "online": self.is_online,
            "selected_config": str(self.selected_config) if self.selected_config else None,
        }


class DataRouter(models.Model):
    TYPES = [(t, t) for t in ("FDT", "ICE", "TCP", "ZBUF")]

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="data_routers"
    )
    name = models.CharField(max_length=100)
    ip_address = models.CharField("host", max_length=255)
    port = models.PositiveIntegerField(default=46005)
    connection_type = models.CharField(max_length=4, choices=TYPES, default="TCP")
    log_path = models.CharField(max_length=500, blank=True)
    staging_directory = models.CharField(
        max_length=500,
        blank=True,
        help_text="absolute path, on the router's host, where run files land",
    )
    # What `pgrep -f` looks for on the router's host to tell whether the router runs.
    process_name = models.CharField(max_length=100, default="dataRouter")
    is_online = models.BooleanField(default=False)
    last_checked = models.DateTimeField(null=True, blank=True)
    staging_directory_is_clean = models.BooleanField(default=True)
    # A run whose files could not be filed yet: retried with back-off (transitions.file_run).
    filing_run = models.PositiveIntegerField(null=True, blank=True)
    filing_attempts = models.PositiveIntegerField(default=0)
    filing_error = models.CharField(max_length=300, blank=True)
    filing_next_try = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_data_router_name")
        ]

    def __str__(self):
        return self.name

    @property
    def filing_state(self) -> str:
        """ "run 7: retry 3 in 30 s: connection refused", or "" when nothing waits."""
        if self.filing_run is None:
            return ""
        text = f"run {self.filing_run}: "
        if self.filing_next_try is not None:
            wait = max(0, int((self.filing_next_try - timezone.now()).total_seconds()))
            text += f"retry {self.filing_attempts + 1} in {wait} s"
        else:
            text += "filing"
        return text + (f": {self.filing_error}" if self.filing_error else "")


class DataSource(models.Model):
    """A CoBo or a MuTAnT: controlled by an ECC server, sending to a data router."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="data_sources"
    )
    name = models.CharField(max_length=100)
    ecc_server = models.ForeignKey(ECCServer, on_delete=models.CASCADE, related_name="data_sources")
    data_router = models.OneToOneField(
        DataRouter, on_delete=models.CASCADE, related_name="data_source"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_data_source_name")
        ]

    def __str__(self):
        return self.name


class ConfigId(models.Model):
    """A configuration file set an ECC server offers (describe/prepare/configure)."""

    ecc_server = models.ForeignKey(ECCServer, on_delete=models.CASCADE, related_name="configs")
    describe = models.CharField(max_length=200)
    prepare = models.CharField(max_length=200)
    configure = models.CharField(max_length=200)
    last_fetched = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["describe", "prepare", "configure"]
        verbose_name = "configuration set"
        constraints = [
            models.UniqueConstraint(
                fields=["ecc_server", "describe", "prepare", "configure"], name="unique_config_id"
            )
        ]

    def __str__(self):
        return f"{self.describe}/{self.prepare}/{self.configure}"

    def as_ecc(self) -> EccConfigId:
        return EccConfigId(self.describe, self.prepare, self.configure)


class RunMetadata(models.Model):
    CLASSES = [(c.lower(), c) for c in ("Testing", "Production", "Beam", "Pulser", "Junk")]
    # starting: number taken, servers being started; recording: every server runs;
    # stopped; aborted: the start failed and was rolled back (the number is not reused).
    STARTING, RECORDING, STOPPED, ABORTED = "starting", "recording", "stopped", "aborted"
    STATES = [(s, s.capitalize()) for s in (STARTING, RECORDING, STOPPED, ABORTED)]

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="runs")
    run_number = models.PositiveIntegerField()
    run_class = models.CharField(max_length=20, choices=CLASSES, default="testing")
    title = models.CharField(max_length=200, blank=True)
    start_datetime = models.DateTimeField(default=timezone.now)
    stop_datetime = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default=STARTING)
    abort_reason = models.TextField(blank=True)
    # Server name → configuration set used, as the ECC servers had them selected at the start.
    configs = models.JSONField(default=dict, blank=True)
    config_change = models.ForeignKey(
        "configs.Change", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-run_number"]
        verbose_name = "run"
        constraints = [
            models.UniqueConstraint(fields=["experiment", "run_number"], name="unique_run_number")
        ]

    def __str__(self):
        return f"run {self.run_number:04d}"

    @property
    def duration(self):
        return (self.stop_datetime or timezone.now()) - self.start_datetime

    @property
    def duration_string(self) -> str:
        seconds = int(self.duration.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ObservableQuerySet(models.QuerySet):
    def shown(self):
        return self.filter(is_hidden=False)


class Observable(models.Model):
    TYPES = [("int", "Integer"), ("float", "Floating point"), ("str", "String")]
    PYTHON_TYPES = {"int": int, "float": float, "str": str}

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="observables")
    name = models.CharField(max_length=100)
    value_type = models.CharField(max_length=5, choices=TYPES, default="float")
    units = models.CharField(max_length=30, blank=True)
    comment = models.CharField(max_length=200, blank=True)
    order = models.PositiveIntegerField(default=0)
    # "Deleting" an observable hides it: the values past runs recorded stay.
    is_hidden = models.BooleanField(default=False)

    objects = ObservableQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_observable_name")
        ]

    def __str__(self):
        return f"{self.name} [{self.units}]" if self.units else self.name


class Measurement(models.Model):
    observable = models.ForeignKey(
        Observable, on_delete=models.CASCADE, related_name="measurements"
    )
    run = models.ForeignKey(RunMetadata, on_delete=models.CASCADE, related_name="measurements")
    serialized_value = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["observable", "run"], name="one_measurement_per_run")
        ]

    def __str__(self):
        return f"{self.observable.name} = {self.serialized_value}"

    @property
    def value(self):
        return Observable.PYTHON_TYPES[self.observable.value_type](self.serialized_value)


class LogEntry(models.Model):
    """An error the DAQ met, shown in the Log entries panel until cleared."""

    experiment = models.ForeignKey(
        Experiment, null=True, on_delete=models.CASCADE, related_name="log_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=100)
    message = models.TextField()
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "log entries"

    def __str__(self):
        return f"{self.source}: {self.message}"


class Alarm(models.Model):
    """A condition that needs a person: raised once (and e-mailed to the experiment's
    coordinators), shown as a banner on every page until acknowledged, cleared when the
    condition clears (alarms.py)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="alarms")
    key = models.CharField(max_length=150)  # what it is about: "offline:ecc1", "filing:r0" …
    message = models.CharField(max_length=500)
    raised_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "key"],
                condition=Q(cleared_at__isnull=True),
                name="one_active_alarm_per_condition",
            )
        ]

    def __str__(self):
        return self.message
