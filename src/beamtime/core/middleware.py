import logging
import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

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
            request.META.get("REMOTE_ADDR", "-"),
            request.method,
            request.get_full_path(),
            response.status_code,
            name,
            elapsed_ms,
        )
        return response


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login, except views marked ``login_not_required`` and the JSON
    API, which authenticates each request itself and answers 401 in JSON."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(settings.API_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
