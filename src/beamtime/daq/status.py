"""The status of the active experiment as the status page and API show it: read from the
database only, never from the ECC servers on the request path."""

from beamtime.daq.models import Experiment
from beamtime.daq.states import overall_state
from beamtime.daq.transitions import under_way


def status(experiment: Experiment) -> dict:
    servers = list(experiment.ecc_servers.select_related("selected_config"))
    state, name = overall_state(servers)
    run = experiment.latest_run
    return {
        "experiment": experiment.name,
        "overall_state": state,
        "overall_state_name": name,
        "run_number": run.run_number if run else None,
        "running": bool(run and run.state == run.RECORDING),
        "run_state": run.state if run else None,
        "run_title": run.title if run else "",
        "run_class": run.get_run_class_display() if run else "",
        "abort_reason": run.abort_reason if run else "",
        "transition": under_way(experiment),
        "run_limit_seconds": experiment.run_limit_seconds,
        "run_limit_bytes": experiment.run_limit_bytes,
        "stop_at_limit": experiment.stop_at_limit,
        "start_time": run.start_datetime if run else None,
        "run_duration": run.duration_string if run else None,
        "individual_results": [s.to_dict() for s in servers],
        "data_routers": [
            {
                "pk": r.pk,
                "name": r.name,
                "online": r.is_online if r.last_checked else None,
                "clean": r.staging_directory_is_clean,
                "staging_directory": r.staging_directory,
                "filing": r.filing_state,
            }
            for r in experiment.data_routers.all()
        ],
        "log_entries": [
            {
                "pk": e.pk,
                "created_at": e.created_at,
                "source": e.source,
                "message": e.message,
                "traceback": e.traceback,
            }
            for e in experiment.log_entries.all()[:50]
        ],
    }
