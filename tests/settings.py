"""The settings for the test suite: the real ones, in a data directory of the session's own.

The data directory is made before beamtime.settings is imported (it reads BEAMTIME_HOME
then) and inherited by the processes tests start (Celery worker, `beamtime serve`).
"""

import os
import tempfile

if "BEAMTIME_TEST_HOME" not in os.environ:
    os.environ["BEAMTIME_TEST_HOME"] = tempfile.mkdtemp(prefix="bt-test-")
os.environ["BEAMTIME_HOME"] = os.environ["BEAMTIME_TEST_HOME"]

from beamtime.settings import *  # noqa: E402, F403

STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405  (whitenoise warns about a missing one)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Serve static files from the packages, without collectstatic's manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The tests read what tasks return (the platform itself never does).
CELERY_TASK_IGNORE_RESULT = False
# Reduction tests give the engine sources and caches of their own, in this process; those
# that test the reduction pool turn this on (tests/reduction/test_pool.py).
REDUCTION_IN_WORKERS = False
# Data routers' staging folders: the tests' own temporary folders, and a made-up facility's.
DAQ_STAGING_ROOTS = {"*": [tempfile.gettempdir(), "/data/staging"]}
