"""Django settings, read from ``BEAMTIME_*`` environment variables (see README)."""

from pathlib import Path

from beamtime import conf

PACKAGE_DIR = Path(__file__).resolve().parent
HOME = conf.home()
SECRET_KEY = conf.secret_key(HOME)
DEBUG = conf.envbool("DEBUG")
ALLOWED_HOSTS = conf.envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = conf.envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "beamtime.core",
    "beamtime.configs",
    "beamtime.daq",
    "beamtime.fitting",
    "beamtime.reduction",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
]

MIDDLEWARE = [
    "beamtime.core.middleware.RequestLogMiddleware",
    # Before anything reads the body (CSRF reads a POST's form data).
    "beamtime.core.middleware.UploadSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "beamtime.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "beamtime.core.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "beamtime.urls"
WSGI_APPLICATION = "beamtime.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "beamtime.core.context.site",
                "beamtime.daq.alarms.banner",
            ],
        },
    },
]

DATABASES = {"default": conf.database(HOME)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The throttle comes first: a refused login checks no password in any backend.
AUTHENTICATION_BACKENDS = [
    "beamtime.core.throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LDAP_SERVER_URI = conf.env("LDAP_SERVER_URI")
if LDAP_SERVER_URI:
    from beamtime.core.ldap import ldap_settings

    globals().update(ldap_settings(LDAP_SERVER_URI))
    AUTHENTICATION_BACKENDS.insert(1, "django_auth_ldap.backend.LDAPBackend")

API_PREFIX = "/api/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 14 * 24 * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": conf.envint("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins (README, "Accounts"): after this many for one account, or four times as many
# from one client address, logins are refused for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURE_LIMIT = conf.envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = conf.envint("LOGIN_LOCKOUT_MINUTES", 15)
# "default" stays in each process; "shared" is a table in the database that every web
# process sees (login failure counts).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "beamtime_cache",
    },
}

LANGUAGE_CODE = "en-us"
# The facility's time zone: pages show times in it (they are stored in UTC).
TIME_ZONE = conf.envzone("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HOME / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = HOME / "media"
# A request body above MAX_UPLOAD_MB is refused (413) from its Content-Length, before it is
# read; form fields (everything but files) are limited to 10 MB, files above 10 MB go to disk.
MAX_UPLOAD_MB = conf.envint("MAX_UPLOAD_MB", 100)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Internet-facing (README, "Behind a TLS proxy"): browsers reach the site over HTTPS through a
# proxy that terminates TLS and tells the platform so in a header.
HTTPS = conf.envbool("HTTPS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # monitoring may poll the plain-HTTP port directly
SECURE_HSTS_SECONDS = conf.envint("HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = conf.envbool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = conf.envbool("HSTS_PRELOAD")
# Joining the browsers' preload list is the site owner's decision, not a flaw to warn about.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
_proxy_header = conf.envheader("PROXY_SSL_HEADER", "X-Forwarded-Proto" if HTTPS else "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
)
# Proxies whose X-Forwarded-For names the client (login throttling, the request log).
TRUSTED_PROXIES = conf.envaddresses("TRUSTED_PROXIES")
# Pages load scripts only from this site and run no inline script but one marked with the
# request's nonce; styles may be inline (Plotly and htmx add style elements).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

REDIS_URL = conf.redis_url(HOME)
EMBEDDED_REDIS = conf.embedded_redis()
CELERY_BROKER_URL = conf.celery_url(REDIS_URL)
# A caller that reads a task's result asks for it (apply_async(ignore_result=False)); nothing
# in the platform does, since jobs keep their state in the database.
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "beamtime.daq.tasks.*": {"queue": "daq"},
    "beamtime.fitting.tasks.run_fit": {"queue": "fits"},
    "beamtime.reduction.tasks.*": {"queue": "reduction"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Fits hold a worker for minutes: each takes one message at a time, so that the next queued
# fit waits for a free process instead of behind a busy one.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1


def _every(seconds: float, task: str) -> dict:
    """A periodic task; a run not started within its period is dropped, not piled up."""
    return {"task": task, "schedule": seconds, "options": {"expires": seconds}}


# Seconds between fetches of the configuration lists of the ECC servers that are Idle.
DAQ_CONFIG_REFRESH_SECONDS = conf.envint("DAQ_CONFIG_REFRESH_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": _every(3600.0, "beamtime.core.tasks.clear_expired_sessions"),
    "refresh-ecc-states": _every(3.0, "beamtime.daq.tasks.refresh_state_all"),
    "check-data-routers": _every(10.0, "beamtime.daq.tasks.check_routers"),
    "retry-filing": _every(5.0, "beamtime.daq.tasks.retry_filing"),
    "run-limits": _every(5.0, "beamtime.daq.tasks.enforce_run_limits"),
    "refresh-ecc-configs": _every(
        float(DAQ_CONFIG_REFRESH_SECONDS), "beamtime.daq.tasks.refresh_configs_idle"
    ),
    "fail-stale-fits": _every(30.0, "beamtime.fitting.tasks.fail_stale_fits"),
}
# ECC servers: seconds to wait for a connection (a host off the network costs no more), for
# an answer, and for a transition to finish.
DAQ_ECC_CONNECT_TIMEOUT = 1.0
DAQ_ECC_TIMEOUT = 5.0
DAQ_TRANSITION_TIMEOUT = 120.0
# Data-router and ECC hosts other than this one are reached over SSH as this user and key.
DAQ_SSH_USER = conf.env("DAQ_SSH_USER")
DAQ_SSH_KEY = conf.env("DAQ_SSH_KEY")
DAQ_SSH_KNOWN_HOSTS = conf.env("DAQ_SSH_KNOWN_HOSTS")
DAQ_SSH_PORT = conf.envint("DAQ_SSH_PORT", 22)
# Where ECC servers and data routers may be (networks and host names), and the folders, per
# host ("*": any), from which their log files may be read (README, "Run control").
DAQ_HOSTS = conf.envhosts("DAQ_HOSTS", "127.0.0.0/8,::1,localhost")
DAQ_LOG_ROOTS = conf.envpathmap("DAQ_LOG_ROOTS")
# The folders, per host ("*": any), data routers' staging folders may be in (run files are
# filed, listed and read only there); unset: the demo's, in the data directory.
DAQ_STAGING_ROOTS = conf.envpathmap("DAQ_STAGING_ROOTS") or {"*": [str(HOME / "demo" / "staging")]}
# The folder, per host, where its ECC server keeps its .xcfg files (archived with each run).
DAQ_CONFIG_ROOTS = conf.envpathmap("DAQ_CONFIG_ROOTS")
DAQ_STAGING_MIN_FREE = 0.05  # alarm when a router's staging disk has less free
# Alarms are e-mailed to the experiment's coordinators through this SMTP server.
EMAIL_HOST = conf.env("EMAIL_HOST", "localhost")
EMAIL_PORT = conf.envint("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = conf.env("EMAIL_FROM", "beamtime@localhost")

# Data reduction (README, "Data reduction"): where computed steps are kept, and the raw data
# sources. The local folder is offered only while `beamtime serve` listens on loopback.
REDUCTION_CACHE = conf.envchoice("REDUCTION_CACHE", ("disk", "redis"), "disk")
REDUCTION_CACHE_DIR = HOME / "reduction-cache"
REDUCTION_CACHE_MB = conf.envint("REDUCTION_CACHE_MB", 512)
REDUCTION_LOCAL_DATA = conf.env("REDUCTION_LOCAL_DATA")
REDUCTION_HTTP_SOURCES = conf.envmap("REDUCTION_HTTP_SOURCES")
LISTEN_HOST = conf.env("LISTEN_HOST", "127.0.0.1")
# A calculation the cache cannot answer runs on the reduction pool, within a time (seconds)
# and a memory (MiB) limit; a request waits this long for it (seconds), then answers 202 with
# the job, whose progress the page shows. Off (in the web process): the test suite only.
REDUCTION_IN_WORKERS = conf.envbool("REDUCTION_IN_WORKERS", True)
REDUCTION_TIME_LIMIT = conf.envint("REDUCTION_TIME_LIMIT_MINUTES", 10) * 60
REDUCTION_MEMORY_MB = conf.envint("REDUCTION_MEMORY_MB", 4096)
REDUCTION_WAIT = 1.0
# Light steps (a few array operations per point, e.g. a footprint correction) whose inputs
# hold at most this many points are computed by the web process itself from cached inputs:
# a repeat after changing a control needs no round trip to the pool. Each process keeps the
# decoded results it used last, up to 10 times as many points.
REDUCTION_LIGHT_POINTS = 20_000

# `beamtime serve` writes its processes' logs here, one rotated file per process.
LOG_DIR = Path(conf.env("LOG_DIR") or HOME / "logs").expanduser().resolve()
# Kept by `beamtime serve` while it runs: which of its processes run, which are restarting.
SERVE_STATUS_FILE = HOME / "serve-status.json"
# /healthz keeps each answer this long (seconds), so that polling it costs next to nothing.
HEALTH_CACHE_SECONDS = conf.envfloat("HEALTH_CACHE_SECONDS", 5.0)

# Worker pools (README, "Queues and workers"): `beamtime serve` runs one Celery worker per pool,
# so that a long fit never delays run control; a task running past its pool's time limit (in
# seconds) is stopped. `beamtime worker --queues …` applies the same limits on other machines.
WORKER_POOLS = {
    "daq": {
        "queues": ["daq"],
        "concurrency": conf.envint("DAQ_WORKERS", 2),
        "time_limit": int(DAQ_TRANSITION_TIMEOUT) + 60,
    },
    "fits": {
        "queues": ["fits"],
        "concurrency": conf.envint("FIT_WORKERS", 1),
        "time_limit": conf.envint("FIT_TIME_LIMIT_MINUTES", 24 * 60) * 60,
    },
    "reduction": {
        "queues": ["reduction", "default"],
        "concurrency": conf.envint("REDUCTION_WORKERS", 1),
        "time_limit": REDUCTION_TIME_LIMIT + 30,  # each calculation has its own limit
        # A process that holds more after a large reduction is replaced (memory back at idle).
        "max_memory_mb": 1024,
    },
}
# Every queue the platform uses; `beamtime worker` consumes all by default.
QUEUES = [queue for pool in WORKER_POOLS.values() for queue in pool["queues"]]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # The request log below replaces Django's own per-request warnings.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "asyncssh": {"level": "WARNING"},  # it logs every connection at INFO
    },
}

# Unexpected exceptions (each logged with its traceback) also go to Sentry when a DSN is set;
# nothing is sent otherwise, and sentry_sdk is not even imported.
SENTRY_DSN = conf.env("SENTRY_DSN")
if SENTRY_DSN:
    import logging

    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        traces_sample_rate=0,  # errors only, no tracing
        integrations=[LoggingIntegration(event_level=logging.ERROR)],  # each logged traceback
    )
