import secrets

from django.contrib.auth import get_user_model


def create_first_admin() -> str | None:
    """On first start (no user at all), create the superuser "admin" with a random password.

    Return the password, which is stored only hashed and so can be shown only now;
    return None when users exist already.
    """
    User = get_user_model()
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", email="", password=password)
    return password
