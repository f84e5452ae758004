"""Work a request leaves for after its answer: run in the thread that served the request,
once the server has sent the answer (Django's request_finished), so the caller does not
wait for it."""

import logging
import threading
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver

log = logging.getLogger("beamtime.core")
_pending = threading.local()  # this thread's work, for after the request it serves


def after_response(work: Callable[[], None]) -> None:
    """Run ``work`` once the request this thread serves has been answered."""
    _pending.__dict__.setdefault("work", []).append(work)


@receiver(request_finished, dispatch_uid="beamtime.core.after_response")
def _run_pending(**_) -> None:
    work, _pending.work = getattr(_pending, "work", []), []
    for item in work:
        try:
            item()
        except Exception:  # the answer is sent: say so to the operators, go on with the rest
            log.exception("work left for after a response failed")
