from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from beamtime.configs import importer
from beamtime.configs.client import batches, describe_import
from beamtime.configs.instruments import HETDEX
from beamtime.configs.models import Instrument


class Command(BaseCommand):
    help = (
        "Import fplane files (fplaneYYYYMMDD[THH:MM:SS].txt) as the focal plane's history, "
        "on this server, oldest first in batches; files already recorded change nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--start", default="", help="the start of a single file")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--user", default="", help="who is recorded as importing")

    def handle(self, *args, files, start, dry_run, user, **options):
        if start and len(files) > 1:
            raise CommandError("--start is for a single file")
        who = None
        if user:
            who = get_user_model().objects.filter(username=user).first()
            if who is None:
                raise CommandError(f"--user: no user {user!r}")
        read = []
        for name in files:
            try:
                read.append(importer.FplaneFile(Path(name).name, Path(name).read_text(), start))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read {name}: {exc}") from None
        instrument = Instrument.objects.get(name=HETDEX)
        outcomes = []
        try:  # in batches, oldest first, as a client sends them: each a short transaction
            read.sort(key=lambda file: importer.start_of(file, instrument))
            for batch in batches(read):
                outcomes += importer.import_files(instrument, batch, user=who, dry_run=dry_run)
        except importer.ImportRefused as exc:
            done = f" (the {len(outcomes)} files before it were imported)" if outcomes else ""
            raise CommandError(f"{exc}{done}") from None
        shown = [{**o.to_dict(), "start": f"{o.start:%Y-%m-%dT%H:%M:%SZ}"} for o in outcomes]
        self.stdout.write(describe_import(shown), ending="")
        if dry_run:
            self.stdout.write("dry run: nothing was written")
