"""The JSON API root: one NinjaAPI, one error format, a router per app."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import beamtime
from beamtime.configs.api import router as configs_router
from beamtime.core.api import router as core_router
from beamtime.core.auth import ApiKeyAuth, BrowserSessionAuth
from beamtime.daq.api import router as daq_router
from beamtime.fitting.api import router as fitting_router
from beamtime.reduction.api import router as reduction_router

api = NinjaAPI(
    title="Beamtime API",
    version=beamtime.__version__,
    description=(
        "Authenticate with an API key from *Account → API keys*, sent as "
        "`Authorization: Bearer <key>` (FPlane clients may send `FPS_API APIKEY=<key>`). "
        'Errors are JSON: `{"error": "…", "field": "…"}`.'
    ),
    auth=[ApiKeyAuth(), BrowserSessionAuth()],
    urls_namespace="api",
)


def error(request, message: str, status: int, field: str | None = None):
    body = {"error": message}
    if field:
        body["field"] = field
    return api.create_response(request, body, status=status)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc):
    first = exc.errors[0]
    # loc is ("body", "payload", "name") or ("query", "page"): drop the location kinds.
    field = ".".join(
        str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "payload")
    )
    return error(request, first.get("msg", "invalid input"), 422, field or None)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request, exc):
    return error(
        request,
        "authentication required: send a valid API key as 'Authorization: Bearer <key>'",
        401,
    )


@api.exception_handler(HttpError)
def on_http_error(request, exc):
    return error(request, str(exc), exc.status_code)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, "not found", 404)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return error(request, str(exc) or "permission denied", 403)


@api.get("/", auth=None, summary="API root")
def root(request):
    return {
        "name": "Beamtime",
        "version": beamtime.__version__,
        "docs": request.build_absolute_uri("docs"),
        "openapi": request.build_absolute_uri("openapi.json"),
    }


api.add_router("/", core_router)
api.add_router("/configs/", configs_router)
api.add_router("/daq/", daq_router)
api.add_router("/fitting/", fitting_router)
api.add_router("/reduction/", reduction_router)
