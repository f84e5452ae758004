"""Who may do what with the active experiment: members (shifters) run the controls and fill in
the run sheet; its coordinators and staff also change its set-up, delete observables and
clear the log. To anyone else the experiment does not exist (404)."""

from django.core.exceptions import PermissionDenied

from beamtime.core.access import active_experiment_for


class NotCoordinator(PermissionDenied):
    pass


def coordinated_experiment_for(user, what: str = "change the set-up"):
    """The active experiment if ``user`` coordinates it (or is staff); 403 for its other
    members, 404 for everyone else."""
    experiment = active_experiment_for(user)
    if not experiment.is_coordinator(user):
        raise NotCoordinator(f"only the experiment's coordinators and staff may {what}")
    return experiment
