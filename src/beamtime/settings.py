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
    "django.middleware.security.SecurityMiddleware",
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

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LDAP_SERVER_URI = conf.env("LDAP_SERVER_URI")
if LDAP_SERVER_URI:
    from beamtime.core.ldap import ldap_settings

    globals().update(ldap_settings(LDAP_SERVER_URI))
    AUTHENTICATION_BACKENDS.insert(0, "django_auth_ldap.backend.LDAPBackend")

API_PREFIX = "/api/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 14 * 24 * 3600

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
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
# Uploads above this size are refused before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

REDIS_URL = conf.redis_url(HOME)
EMBEDDED_REDIS = conf.embedded_redis()
CELERY_BROKER_URL = conf.celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "beamtime.daq.tasks.*": {"queue": "daq"},
    "beamtime.fitting.tasks.run_fit": {"queue": "fits"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "beamtime.core.tasks.clear_expired_sessions",
        "schedule": 3600.0,
    },
    "refresh-ecc-states": {"task": "beamtime.daq.tasks.refresh_state_all", "schedule": 3.0},
    "check-data-routers": {"task": "beamtime.daq.tasks.check_routers", "schedule": 10.0},
    "retry-filing": {"task": "beamtime.daq.tasks.retry_filing", "schedule": 5.0},
    "run-limits": {"task": "beamtime.daq.tasks.enforce_run_limits", "schedule": 5.0},
    "fail-stale-fits": {"task": "beamtime.fitting.tasks.fail_stale_fits", "schedule": 30.0},
}
# ECC servers: seconds to wait for an answer, and for a transition to finish.
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

# Every queue the platform uses; `beamtime serve` and `beamtime worker` consume all by default.
QUEUES = ["default", "fits", "reduction", "daq"]

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
