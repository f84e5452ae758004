from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError

from beamtime.core.models import ApiKey


class Command(BaseCommand):
    help = (
        "Create a user for a script that updates configurations (like FPlane's add_dpu_user) "
        "and print its API key."
    )

    def add_arguments(self, parser):
        parser.add_argument("-u", "--username", required=True)
        parser.add_argument("-e", "--email", default="")
        parser.add_argument("firstname", nargs="?", default="")
        parser.add_argument("lastname", nargs="?", default="")

    def handle(self, *args, username, email, firstname, lastname, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} exists already; create a key under API keys")
        user = User.objects.create_user(
            username, email=email, first_name=firstname, last_name=lastname
        )  # no password: the user can only use its key
        user.user_permissions.add(
            Permission.objects.get(codename="add_change", content_type__app_label="configs")
        )
        _, key = ApiKey.issue(user, "created by add_api_user")
        self.stdout.write(key)
