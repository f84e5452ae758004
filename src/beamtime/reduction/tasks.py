from celery import shared_task

from beamtime.reduction import jobs


@shared_task
def calculate(job_id: str, user_pk: int, request: dict) -> str:
    """A reduction calculation on the reduction pool (see reduction.jobs)."""
    return jobs.run(job_id, user_pk, request)
