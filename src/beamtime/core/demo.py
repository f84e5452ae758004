import secrets

from django.contrib.auth import get_user_model


def load(stdout) -> None:
    """A visiting scientist's account, to see the platform as a non-administrator does."""
    User = get_user_model()
    if User.objects.filter(username="scientist").exists():
        return
    password = secrets.token_urlsafe(9)
    User.objects.create_user(
        "scientist", first_name="Visiting", last_name="Scientist", password=password
    )
    stdout.write(
        f'Demo: log in as "scientist" with password "{password}" to see a visitor\'s view.\n'
    )
