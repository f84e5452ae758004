"""Easy setup: the whole set of ECC servers, data routers and data sources of an experiment
from a few numbers, replacing the old set in one transaction."""

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction

from beamtime.daq.models import DataRouter, DataSource, ECCServer, Experiment
from beamtime.daq.safety import check_staging, host_allowed
from beamtime.daq.workers import DATA_ROUTER_PROCESS, WorkerError, worker_for

ECC_PORT, ROUTER_PORT = 8083, 46005


class EasySetupForm(forms.Form):
    num_cobos = forms.IntegerField(label="Number of CoBos", min_value=1, max_value=64, initial=10)
    one_ecc_server = forms.BooleanField(label="Use one ECC server for all sources", required=False)
    first_cobo_ecc_ip = forms.GenericIPAddressField(
        label="IP address of the first CoBo's ECC server", protocol="IPv4"
    )
    first_cobo_data_router_ip = forms.GenericIPAddressField(
        label="IP address of the first CoBo's data router", protocol="IPv4"
    )
    staging_directory = forms.CharField(
        label="Staging folder of the data routers",
        max_length=500,
        required=False,
        help_text="absolute path, on each data router's host, where run files land; leave it "
        "empty to use the folder each running data router works in (asked of its host)",
    )
    mutant_is_present = forms.BooleanField(label="There is a MuTAnT", required=False)
    mutant_ecc_ip = forms.GenericIPAddressField(
        label="IP address of the MuTAnT's ECC server", protocol="IPv4", required=False
    )
    mutant_data_router_ip = forms.GenericIPAddressField(
        label="IP address of the MuTAnT's data router", protocol="IPv4", required=False
    )

    def __init__(self, *args, experiment=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment_id = experiment.pk if experiment else None

    def check_staging(self, host: str, path: str) -> str:
        return check_staging(host, path, self.experiment_id)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        n = data["num_cobos"]
        eccs = (
            [data["first_cobo_ecc_ip"]]
            if data["one_ecc_server"]
            else addresses(self, "first_cobo_ecc_ip", data["first_cobo_ecc_ip"], n)
        )
        routers = addresses(self, "first_cobo_data_router_ip", data["first_cobo_data_router_ip"], n)
        for field, hosts in [
            ("first_cobo_ecc_ip", eccs),
            ("first_cobo_data_router_ip", routers),
            ("mutant_ecc_ip", [data.get("mutant_ecc_ip")]),
            ("mutant_data_router_ip", [data.get("mutant_data_router_ip")]),
        ]:
            refused = [h for h in hosts if h and not host_allowed(h)]
            if refused:
                self.add_error(
                    field,
                    f"{refused[0]} is not on a network the facility allows for the DAQ "
                    "(BEAMTIME_DAQ_HOSTS)",
                )
        if data["mutant_is_present"]:
            for field in ("mutant_data_router_ip",) + (
                () if data["one_ecc_server"] else ("mutant_ecc_ip",)
            ):
                if not data.get(field):
                    self.add_error(field, "needed when there is a MuTAnT")
            if data.get("mutant_data_router_ip") in routers:
                self.add_error(
                    "mutant_data_router_ip",
                    f"overlaps the CoBos' data routers ({routers[0]} … {routers[-1]})",
                )
            if not data["one_ecc_server"] and data.get("mutant_ecc_ip") in eccs:
                self.add_error(
                    "mutant_ecc_ip", f"overlaps the CoBos' ECC servers ({eccs[0]} … {eccs[-1]})"
                )
        if self.errors:
            return data
        hosts = routers + ([data["mutant_data_router_ip"]] if data["mutant_is_present"] else [])
        if data["staging_directory"]:
            try:
                for host in hosts:
                    data["staging_directory"] = self.check_staging(host, data["staging_directory"])
            except ValidationError as exc:
                self.add_error("staging_directory", exc)
        else:
            found, problems = find_staging(hosts, self.check_staging)
            if problems:
                self.add_error(
                    "staging_directory",
                    "none given, and not found on every data router's host: "
                    + "; ".join(problems[:3])
                    + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
                )
            data["staging_directories"] = found
        return data


def find_staging(hosts: list[str], check=check_staging) -> tuple[dict[str, str], list[str]]:
    """The folder the data router process works in on each host, as the original DAQ found
    its staging folder (if ``check(host, folder)`` allows it); and what went wrong where it
    could not be found. The hosts are asked in threads, the checks (the database) made here."""

    def find(host: str) -> str:
        try:
            with worker_for(host) as worker:
                folder = worker.process_directory(DATA_ROUTER_PROCESS)
        except WorkerError as exc:
            raise ValidationError(str(exc)) from None
        if folder is None:
            raise ValidationError(f"{host}: no {DATA_ROUTER_PROCESS} process runs there")
        return folder

    found, problems = {}, []
    hosts = list(dict.fromkeys(hosts))
    # All at once (65 at most): stalled hosts cost one SSH timeout together, not one a wave.
    with ThreadPoolExecutor(len(hosts) or 1) as pool:
        futures = {host: pool.submit(find, host) for host in hosts}
    for host, future in futures.items():
        try:
            folder = future.result()
        except ValidationError as exc:
            problems.append(exc.messages[0])
            continue
        try:
            found[host] = check(host, folder)
        except ValidationError as exc:
            problems.append(f"{host}: {DATA_ROUTER_PROCESS} works in {folder!r}: {exc.messages[0]}")
    return found, problems


def current_values(experiment: Experiment) -> dict:
    """The form's fields as the experiment's set-up has them now, to start from."""
    sources = list(experiment.data_sources.select_related("ecc_server", "data_router"))
    cobos = [s for s in sources if s.name != "MuTAnT"]
    mutant = next((s for s in sources if s.name == "MuTAnT"), None)
    if not cobos:
        return {}
    values = {
        "num_cobos": len(cobos),
        "one_ecc_server": len({s.ecc_server_id for s in sources}) == 1,
        "first_cobo_ecc_ip": cobos[0].ecc_server.ip_address,
        "first_cobo_data_router_ip": cobos[0].data_router.ip_address,
        # One folder for all, unless the routers' own were found on their hosts.
        "staging_directory": (
            cobos[0].data_router.staging_directory
            if len({s.data_router.staging_directory for s in sources}) == 1
            else ""
        ),
    }
    if mutant is not None:
        values |= {
            "mutant_is_present": True,
            "mutant_ecc_ip": mutant.ecc_server.ip_address,
            "mutant_data_router_ip": mutant.data_router.ip_address,
        }
    return values


def addresses(form, field: str, first: str, count: int) -> list[str]:
    """``count`` consecutive addresses from ``first``, within its /24 network."""
    start = ipaddress.IPv4Address(first)
    if int(str(start).rsplit(".", 1)[1]) + count - 1 > 254:
        form.add_error(
            field, ValidationError(f"{count} addresses from {first} run past the end of its subnet")
        )
        return []
    return [str(start + i) for i in range(count)]


def staging(data: dict, host) -> str:
    """The staging folder given, or the one found on the router's host."""
    return data["staging_directory"] or data.get("staging_directories", {})[str(host)]


@transaction.atomic
def easy_setup(experiment: Experiment, data: dict) -> None:
    """Replace the experiment's ECC servers, data routers and sources (nothing else is touched)."""
    experiment.data_sources.all().delete()
    experiment.ecc_servers.all().delete()
    experiment.data_routers.all().delete()
    n = data["num_cobos"]
    first_ecc = ipaddress.IPv4Address(data["first_cobo_ecc_ip"])
    first_router = ipaddress.IPv4Address(data["first_cobo_data_router_ip"])
    shared = (
        ECCServer.objects.create(
            experiment=experiment, name="ECC", ip_address=str(first_ecc), port=ECC_PORT
        )
        if data["one_ecc_server"]
        else None
    )
    for i in range(n):
        server = shared or ECCServer.objects.create(
            experiment=experiment, name=f"ECC{i}", ip_address=str(first_ecc + i), port=ECC_PORT
        )
        router = DataRouter.objects.create(
            experiment=experiment,
            name=f"DataRouter{i}",
            ip_address=str(first_router + i),
            port=ROUTER_PORT,
            staging_directory=staging(data, first_router + i),
        )
        DataSource.objects.create(
            experiment=experiment, name=f"CoBo[{i}]", ecc_server=server, data_router=router
        )
    if data["mutant_is_present"]:
        server = shared or ECCServer.objects.create(
            experiment=experiment,
            name="ECC_mutant",
            ip_address=data["mutant_ecc_ip"],
            port=ECC_PORT,
        )
        router = DataRouter.objects.create(
            experiment=experiment,
            name="DataRouter_mutant",
            ip_address=data["mutant_data_router_ip"],
            port=ROUTER_PORT,
            staging_directory=staging(data, data["mutant_data_router_ip"]),
        )
        DataSource.objects.create(
            experiment=experiment, name="MuTAnT", ecc_server=server, data_router=router
        )
