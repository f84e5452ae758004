from django.shortcuts import render
from django.urls import reverse


def editor(request):
    """The dataflow editor. It keeps its templates in the browser and asks the stateless
    reduction API for everything else, so the page itself needs nothing from the server."""
    return render(
        request,
        "reduction/editor.html",
        {"api_root": reverse("api:api-root") + "reduction/"},
    )
