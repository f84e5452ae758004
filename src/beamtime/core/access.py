"""One helper per object type: the object the user may see, or 404."""

from django.shortcuts import get_object_or_404

from beamtime.core.models import ApiKey


def api_key_for_user(user, key_id: int) -> ApiKey:
    return get_object_or_404(ApiKey, pk=key_id, user=user)


def instrument_for_user(user, name: str):
    """Any signed-in user may read every instrument's configuration history."""
    from beamtime.configs.models import Instrument

    return get_object_or_404(Instrument, name=name)
