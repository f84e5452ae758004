"""What the controls mean: one state for all servers, and the state a button leads to."""

from beamtime.daq.ecc.protocol import State
from beamtime.daq.models import ERROR, MIXED, STATE_NAMES


def overall_state(servers) -> tuple[int | None, str]:
    """One state for all servers, ``Mixed`` when they differ, ``Error`` when one failed."""
    servers = list(servers)
    if not servers:
        return None, "No ECC servers"
    if any(s.error_message or not s.is_online for s in servers):
        return ERROR, "Error"
    states = {s.state for s in servers}
    if len(states) > 1:
        return MIXED, "Mixed"
    state = states.pop()
    return state, STATE_NAMES[state]


ACTIONS = {
    "describe": State.DESCRIBED,
    "prepare": State.PREPARED,
    "configure": State.READY,
    "start": State.RUNNING,
    "stop": State.READY,
}


def step_target(state: int, action: str) -> int:
    """The state an action (a button: describe … stop, or reset) leads to from ``state``."""
    if action == "reset":
        if state == State.IDLE:
            raise ValueError("the system is Idle already")
        return state - 1
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return ACTIONS[action]
