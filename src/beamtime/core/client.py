"""Who is asking: the client's address, also behind trusted proxies."""

from django.conf import settings


def client_ip(request) -> str:
    """The client's IP address.

    A request from one of settings.TRUSTED_PROXIES is attributed to the address that proxy
    put last in X-Forwarded-For (skipping further trusted proxies); anyone else's
    X-Forwarded-For is ignored, since a client can write whatever it likes there.
    """
    address = request.META.get("REMOTE_ADDR", "") or "-"
    trusted = settings.TRUSTED_PROXIES
    if address not in trusted:
        return address
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([a for a in forwarded if a]):
        if hop not in trusted:
            return hop
    return address
