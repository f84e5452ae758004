from celery import shared_task

from beamtime.fitting import jobs


@shared_task
def run_fit(job_pk: int) -> str:
    return jobs.run(job_pk)


@shared_task
def fail_stale_fits() -> int:
    """Fail running fits that lost their worker, queue again queued ones that lost their
    message; run by beat every 30 s."""
    return jobs.fail_stale() + jobs.requeue_lost()
