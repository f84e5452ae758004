from celery import shared_task

from beamtime.reduction import jobs


# Acknowledged when it ends, as fits are (fitting/tasks.py): no calculation waits in the
# hands of a busy worker; a second delivery does nothing (jobs.run runs a queued job only).
@shared_task(acks_late=True)
def calculate(job_id: str, user_pk: int, request: dict) -> str:
    """A reduction calculation on the reduction pool (see reduction.jobs)."""
    return jobs.run(job_id, user_pk, request)
