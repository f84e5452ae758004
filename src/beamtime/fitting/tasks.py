from celery import shared_task

from beamtime.fitting import jobs


# Acknowledged when it ends (acks_late), so that a worker busy with a fit takes no further
# message (prefetch 1): a fit queued behind one whose worker is killed stays in the queue for
# the next worker, instead of in the dead one's hands until the broker's visibility timeout
# (an hour). A second delivery of a fit does nothing (jobs.run claims a job once).
@shared_task(acks_late=True)
def run_fit(job_pk: int) -> str:
    return jobs.run(job_pk)


@shared_task
def fail_stale_fits() -> int:
    """Fail running fits that lost their worker, queue again queued ones that lost their
    message; run by beat every 30 s."""
    return jobs.fail_stale() + jobs.requeue_lost()
