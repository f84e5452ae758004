"""beamtime.urls plus /bare/<date>, which answers the file named by $FPLANE_BENCH_FILE."""

import os
from functools import cache
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path


@cache
def body() -> bytes:
    return Path(os.environ["FPLANE_BENCH_FILE"]).read_bytes()


@login_not_required
def bare(request, datestr: str):
    return HttpResponse(body(), content_type="text/plain; charset=utf-8")


urlpatterns = [path("bare/<str:datestr>", bare), path("", include("beamtime.urls"))]
