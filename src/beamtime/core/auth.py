"""API key authentication for the JSON APIs and for the FPlane-compatible endpoints.

Keys are accepted as ``Authorization: Bearer <key>`` and, for existing FPlane clients,
``Authorization: FPS_API APIKEY=<key>``.
"""

from ninja.errors import AuthenticationError
from ninja.security import SessionAuth
from ninja.security.http import HttpAuthBase

from beamtime.core.models import ApiKey

SCHEMES = {"bearer": "", "fps_api": "APIKEY="}


def key_from_header(header: str) -> str | None:
    """The key in an Authorization header value, or None when it carries none."""
    scheme, _, rest = header.strip().partition(" ")
    marker = SCHEMES.get(scheme.lower())
    if marker is None:
        return None
    rest = rest.strip()
    if not rest.upper().startswith(marker):
        return None
    return rest[len(marker) :].strip() or None


def user_from_request(request):
    """The user named by the request's API key, or None."""
    key = key_from_header(request.headers.get("Authorization", ""))
    return ApiKey.user_for(key) if key else None


class ApiKeyAuth(HttpAuthBase):
    """django-ninja authentication by API key; also sets request.user for the views.

    A request that sends an Authorization header is judged by it alone: a bad key is a 401,
    whatever cookies come along (not a CSRF 403 from the session check that would follow).
    """

    openapi_scheme = "bearer"

    def __call__(self, request):
        if "Authorization" not in request.headers:
            return None
        user = user_from_request(request)
        if user is None:
            raise AuthenticationError()
        request.user = user
        return user


class BrowserSessionAuth(SessionAuth):
    """The browser's login session; its CSRF check applies only to a logged-in session, so
    that an anonymous write gets the API's 401 rather than a 403 about a token."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)
