from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from beamtime.core.models import ApiKey

KEY_NAME = "add_api_user"
OLD_KEY_NAMES = [KEY_NAME, "created by add_api_user"]


class Command(BaseCommand):
    help = (
        "Create a user for a script that updates configurations (like FPlane's add_dpu_user) "
        "and print its API key; for an existing user, issue a new key and revoke the one this "
        "command issued before."
    )

    def add_arguments(self, parser):
        parser.add_argument("-u", "--username", required=True)
        parser.add_argument("-e", "--email", default="")
        parser.add_argument("firstname", nargs="?", default="")
        parser.add_argument("lastname", nargs="?", default="")

    @transaction.atomic
    def handle(self, *args, username, email, firstname, lastname, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username, email=email, first_name=firstname, last_name=lastname
            )  # no password: the user can only use its key
        old = user.api_keys.active().filter(name__in=OLD_KEY_NAMES)
        for row in old:
            row.revoke()
            self.stderr.write(f"revoked the earlier key {row.prefix}… of {username}")
        user.user_permissions.add(
            Permission.objects.get(codename="add_change", content_type__app_label="configs")
        )
        _, key = ApiKey.issue(user, KEY_NAME, ["read", "write:fplane"])
        self.stdout.write(key)  # shown this once only
