"""Settings for optional LDAP login (django-auth-ldap), from BEAMTIME_LDAP_* variables."""

from importlib.util import find_spec

from beamtime.conf import PREFIX, ConfigError, env, envbool, envsecret


def ldap_settings(server_uri: str) -> dict:
    """The AUTH_LDAP_* Django settings for a directory at ``server_uri``.

    Users bind as BEAMTIME_LDAP_USER_DN_TEMPLATE with ``%(user)s`` replaced by the
    login name; name and e-mail are copied from the directory at each login.
    """
    if find_spec("django_auth_ldap") is None:
        raise ConfigError(
            f"{PREFIX}LDAP_SERVER_URI is set but django-auth-ldap is not installed "
            "(pip install 'beamtime[ldap]')"
        )
    template = env("LDAP_USER_DN_TEMPLATE")
    if "%(user)s" not in template:
        raise ConfigError(
            f"{PREFIX}LDAP_USER_DN_TEMPLATE must contain %(user)s, "
            "e.g. uid=%(user)s,ou=people,dc=example,dc=org"
        )
    return {
        "AUTH_LDAP_SERVER_URI": server_uri,
        "AUTH_LDAP_USER_DN_TEMPLATE": template,
        "AUTH_LDAP_BIND_DN": env("LDAP_BIND_DN"),
        "AUTH_LDAP_BIND_PASSWORD": envsecret("LDAP_BIND_PASSWORD"),
        "AUTH_LDAP_START_TLS": envbool("LDAP_START_TLS"),
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
    }
