"""API key authentication for the JSON APIs and for the FPlane-compatible endpoints.

Keys are accepted as ``Authorization: Bearer <key>`` and, for existing FPlane clients,
``Authorization: FPS_API APIKEY=<key>``.
"""

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
    """django-ninja authentication by API key; also sets request.user for the views."""

    openapi_scheme = "bearer"

    def __call__(self, request):
        user = user_from_request(request)
        if user is not None:
            request.user = user
        return user
