"""The BEAMTIME_* readers: defaults, parsing, and one clear line for each bad value."""

import os
import stat
import subprocess
import sys

import pytest

from beamtime import conf
from beamtime.conf import ConfigError
from beamtime.core.ldap import ldap_settings
from tests.conftest import require


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BEAMTIME_"):
            monkeypatch.delenv(name)
    return monkeypatch


class TestDatabase:
    def test_it_defaults_to_sqlite_in_the_data_dir(self, clean_env, tmp_path):
        db = conf.database(tmp_path)
        assert db["ENGINE"] == "django.db.backends.sqlite3"
        assert db["NAME"] == str(tmp_path / "beamtime.sqlite3")

    def test_it_reads_a_postgresql_url(self, clean_env, tmp_path):
        clean_env.setenv("BEAMTIME_DATABASE_URL", "postgresql://bt:s3cret@db.example:5433/beamtime")
        db = conf.database(tmp_path)
        assert db["ENGINE"] == "django.db.backends.postgresql"
        assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
            "beamtime",
            "bt",
            "s3cret",
            "db.example",
            5433,
        )

    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("nonsense", "unsupported scheme ''"),
            ("mysql://u:p@h/db", "unsupported scheme 'mysql'"),
            ("postgresql://u:p@h:notaport/db", "malformed"),
            ("postgresql://u:p@h:5432/", "names no database"),
        ],
    )
    def test_it_names_the_variable_of_a_bad_url(self, clean_env, tmp_path, url, says):
        clean_env.setenv("BEAMTIME_DATABASE_URL", url)
        with pytest.raises(ConfigError) as raised:
            conf.database(tmp_path)
        assert str(raised.value).startswith("BEAMTIME_DATABASE_URL")
        assert says in str(raised.value)


class TestSecretKey:
    def test_it_is_generated_once_and_kept_private(self, clean_env, tmp_path):
        first = conf.secret_key(tmp_path)
        assert len(first) >= 50
        assert conf.secret_key(tmp_path) == first
        assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600

    def test_it_comes_from_the_environment_or_a_file(self, clean_env, tmp_path):
        clean_env.setenv("BEAMTIME_SECRET_KEY", "from-env")
        assert conf.secret_key(tmp_path) == "from-env"
        (tmp_path / "key.txt").write_text("from-file\n")
        clean_env.setenv("BEAMTIME_SECRET_KEY_FILE", str(tmp_path / "key.txt"))
        assert conf.secret_key(tmp_path) == "from-file"
        assert not (tmp_path / "secret_key").exists()

    def test_a_missing_key_file_is_named(self, clean_env, tmp_path):
        clean_env.setenv("BEAMTIME_SECRET_KEY_FILE", str(tmp_path / "nope"))
        with pytest.raises(ConfigError, match="BEAMTIME_SECRET_KEY_FILE=.*nope"):
            conf.secret_key(tmp_path)


class TestScalars:
    @pytest.mark.parametrize(
        ("raw", "value"), [("1", True), ("yes", True), ("False", False), ("", False)]
    )
    def test_booleans(self, clean_env, raw, value):
        clean_env.setenv("BEAMTIME_DEBUG", raw)
        assert conf.envbool("DEBUG") is value

    def test_debug_is_off_unless_asked(self, clean_env):
        assert conf.envbool("DEBUG") is False

    def test_a_bad_boolean_is_named(self, clean_env):
        clean_env.setenv("BEAMTIME_DEBUG", "maybe")
        with pytest.raises(ConfigError, match="BEAMTIME_DEBUG='maybe' is not a boolean"):
            conf.envbool("DEBUG")

    def test_an_unwritable_home_is_named(self, clean_env, tmp_path):
        (tmp_path / "file").write_text("")
        clean_env.setenv("BEAMTIME_HOME", str(tmp_path / "file" / "var"))
        with pytest.raises(ConfigError, match="BEAMTIME_HOME=.* is not a writable directory"):
            conf.home()

    def test_redis_defaults_to_a_socket_in_the_data_dir(self, clean_env, tmp_path):
        assert conf.redis_url(tmp_path) == f"unix://{tmp_path}/redis/redis.sock"
        assert conf.embedded_redis()
        assert (
            conf.celery_url(conf.redis_url(tmp_path))
            == f"redis+socket://{tmp_path}/redis/redis.sock"
        )

    def test_a_bad_redis_url_and_a_too_long_home_are_named(self, clean_env, tmp_path):
        clean_env.setenv("BEAMTIME_REDIS_URL", "http://localhost:6379")
        with pytest.raises(ConfigError, match="BEAMTIME_REDIS_URL='http://localhost:6379'"):
            conf.redis_url(tmp_path)
        clean_env.delenv("BEAMTIME_REDIS_URL")
        with pytest.raises(ConfigError, match="too long a path"):
            conf.redis_url(tmp_path / ("x" * 100))


class TestLdap:
    def test_it_builds_the_django_auth_ldap_settings(self, clean_env):
        require(_ldap_installed(), "django-auth-ldap (pip install 'beamtime[ldap]')")
        clean_env.setenv("BEAMTIME_LDAP_USER_DN_TEMPLATE", "uid=%(user)s,ou=people,dc=lab,dc=org")
        clean_env.setenv("BEAMTIME_LDAP_START_TLS", "1")
        settings = ldap_settings("ldap://ldap.lab.org")
        assert settings["AUTH_LDAP_SERVER_URI"] == "ldap://ldap.lab.org"
        assert settings["AUTH_LDAP_USER_DN_TEMPLATE"] == "uid=%(user)s,ou=people,dc=lab,dc=org"
        assert settings["AUTH_LDAP_START_TLS"] is True

    def test_a_template_without_the_user_is_refused(self, clean_env):
        require(_ldap_installed(), "django-auth-ldap (pip install 'beamtime[ldap]')")
        clean_env.setenv("BEAMTIME_LDAP_USER_DN_TEMPLATE", "ou=people,dc=lab,dc=org")
        with pytest.raises(ConfigError, match="BEAMTIME_LDAP_USER_DN_TEMPLATE must contain"):
            ldap_settings("ldap://ldap.lab.org")

    def test_django_asks_ldap_first_when_a_server_is_set(self, tmp_path):
        require(_ldap_installed(), "django-auth-ldap (pip install 'beamtime[ldap]')")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "beamtime.settings",
            "BEAMTIME_HOME": str(tmp_path),
            "BEAMTIME_LDAP_SERVER_URI": "ldap://ldap.lab.org",
            "BEAMTIME_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,ou=people,dc=lab,dc=org",
        }
        code = (
            "from django.conf import settings\n"
            "from django_auth_ldap.backend import LDAPBackend\n"
            "print(*settings.AUTHENTICATION_BACKENDS)\n"
            "print(LDAPBackend().settings.SERVER_URI)\n"
            "print(LDAPBackend().settings.USER_DN_TEMPLATE % {'user': 'ada'})\n"
        )
        out = subprocess.run(
            [sys.executable, "-m", "beamtime", "manage", "shell", "--no-imports", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [
            # The login throttle first, then the directory, then local accounts.
            "beamtime.core.throttle.LoginThrottleBackend",
            "django_auth_ldap.backend.LDAPBackend",
            "django.contrib.auth.backends.ModelBackend",
            "ldap://ldap.lab.org",
            "uid=ada,ou=people,dc=lab,dc=org",
        ]


def _ldap_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("django_auth_ldap") is not None


def test_many_processes_may_check_the_home_at_once(tmp_path, clean_env):
    """serve's worker and beat start together; their write probes must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    clean_env.setenv("BEAMTIME_HOME", str(tmp_path))
    with ThreadPoolExecutor(8) as pool:
        homes = list(pool.map(lambda _: conf.home(), range(200)))
    assert set(homes) == {tmp_path}
    assert not list(tmp_path.glob(".write-test*"))
