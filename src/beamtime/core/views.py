from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.forms.forms import NON_FIELD_ERRORS
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from beamtime.core import health
from beamtime.core.access import api_key_for_user
from beamtime.core.context import SYSTEMS
from beamtime.core.forms import LoginForm
from beamtime.core.models import ApiKey


def home(request):
    return render(request, "core/home.html", {"systems": SYSTEMS})


def system_placeholder(request, slug):
    system = next((s for s in SYSTEMS if s["slug"] == slug), None)
    if system is None:
        raise Http404
    return render(request, "core/placeholder.html", {"system": system})


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
        return response


def api_keys(request):
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            messages.error(request, "Name: give the key a name of 1 to 100 characters.")
            return redirect("api-keys")
        scopes = ["read", "write:fplane"] if request.POST.get("write_fplane") else ["read"]
        _, key = ApiKey.issue(request.user, name, scopes)
        # Shown once, on the next page only; it is not stored in clear anywhere.
        request.session["new_api_key"] = key
        return redirect("api-keys")
    return render(
        request,
        "core/api_keys.html",
        {
            "keys": ApiKey.objects.filter(user=request.user),
            "new_key": request.session.pop("new_api_key", None),
        },
    )


@require_POST
def revoke_api_key(request, key_id):
    row = api_key_for_user(request.user, key_id)
    row.revoke()
    messages.success(request, f"Revoked the key {row.prefix}… ({row.name}).")
    return redirect("api-keys")


@login_not_required
@require_GET
def healthz(request):
    report = health.cached_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
