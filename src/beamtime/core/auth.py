"""API key authentication for the JSON APIs and for the FPlane-compatible endpoints.

Keys are accepted as ``Authorization: Bearer <key>`` and, for existing FPlane clients,
``Authorization: FPS_API APIKEY=<key>``.
"""

import logging

from django.db import DatabaseError
from ninja.errors import AuthenticationError, HttpError
from ninja.security import SessionAuth
from ninja.security.http import HttpAuthBase

from beamtime.core.after_response import after_response
from beamtime.core.models import ApiKey

SCHEMES = {"bearer": "", "fps_api": "APIKEY="}
log = logging.getLogger("beamtime.core")


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
    """The user named by the request's API key, or None; the key's row is kept as
    ``request.api_key`` so that views can check its scopes. The key's use is recorded once
    the answer is sent (an SQLite write waits 10–20 ms for the disk; the caller need not)."""
    key = key_from_header(request.headers.get("Authorization", ""))
    row = ApiKey.row_for(key, record_use=False) if key else None
    if row is not None and row.use_is_due():
        after_response(lambda: _record_use(row))
    request.api_key = row
    return row.user if row else None


def _record_use(row: ApiKey) -> None:
    try:
        row.record_use_if_due()
    except DatabaseError:  # the answer is sent; the next use records it
        log.warning("could not record the use of API key %s", row.prefix, exc_info=True)


def key_allows(request, scope: str) -> bool:
    """Whether the request may act within ``scope``: always when signed in by session,
    only when its key holds the scope when authenticated by key."""
    row = getattr(request, "api_key", None)
    return row is None or scope in row.scopes


class ApiKeyAuth(HttpAuthBase):
    """django-ninja authentication by API key; also sets request.user for the views.

    A request that sends an Authorization header is judged by it alone: a bad key is a 401,
    whatever cookies come along (not a CSRF 403 from the session check that would follow).
    Every call needs the key's "read" scope, whatever its method: POSTs such as a reduction's
    calculation read data too. (A key with only "write:fplane" serves the FPlane-compatible
    endpoints, which do not come through here.)
    """

    openapi_scheme = "bearer"

    def __call__(self, request):
        if "Authorization" not in request.headers:
            return None
        user = user_from_request(request)
        if user is None:
            raise AuthenticationError()
        if not key_allows(request, "read"):
            raise HttpError(403, "this API key has no read scope, which the JSON APIs need")
        request.user = user
        return user


class BrowserSessionAuth(SessionAuth):
    """The browser's login session; its CSRF check applies only to a logged-in session, so
    that an anonymous write gets the API's 401 rather than a 403 about a token."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)
