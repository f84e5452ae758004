import logging
import secrets
import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpResponse, JsonResponse

from beamtime.core.client import client_ip

log = logging.getLogger("beamtime.request")


class RequestLogMiddleware:
    """One line per request: client IP, method, path, status, user, duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - start) * 1000
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else "-"
        log.info(
            "%s %s %s %s %s %.1fms",
            client_ip(request),
            request.method,
            request.get_full_path(),
            response.status_code,
            name,
            elapsed_ms,
        )
        return response


class UploadSizeLimitMiddleware:
    """Refuse a body larger than its limit from its Content-Length, before reading any of it:
    MAX_UPLOAD_MB for a form that may carry files (multipart), else (JSON, a plain form) also
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which Django would otherwise answer with its HTML 400.

    Django itself limits form fields but streams every uploaded file to disk before a view
    could refuse it. A body without Content-Length (chunked) is never read by Django.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024
        in_memory = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if in_memory is not None and not request.content_type.startswith("multipart/"):
            limit = min(limit, in_memory)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = f"the request is too large: at most {limit / 2**20:g} MB"
            if request.path_info.startswith(settings.API_PREFIX):
                return JsonResponse({"error": message}, status=413)
            return HttpResponse(message + "\n", status=413, content_type="text/plain")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY with every response that has none of its own.

    Its ``{nonce}`` is a fresh random value per request, ``request.csp_nonce``: an inline
    script a template really needs (an import map) carries ``nonce="{{ request.csp_nonce }}"``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault(
                "Content-Security-Policy",
                settings.CONTENT_SECURITY_POLICY.replace("{nonce}", request.csp_nonce),
            )
        return response


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login, except views marked ``login_not_required`` and the JSON
    API, which authenticates each request itself and answers 401 in JSON."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(settings.API_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
