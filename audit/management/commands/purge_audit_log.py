from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import retention


class Command(BaseCommand):
    help = (
        "Remove audit events older than AUDIT_RETENTION_DAYS (or --days); the purge is itself recorded. "
        "The sweeper worker runs it daily."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days", type=int, help="keep this many days instead of AUDIT_RETENTION_DAYS (0: keep all)"
        )

    def handle(self, *args, days: int | None, **options) -> None:
        days = settings.AUDIT_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        purge = retention.purge_expired(days=days)
        if purge.cutoff is None:
            self.stdout.write("Retention is 0 days: audit events are kept forever.")
        else:
            self.stdout.write(
                f"Removed {purge.removed} audit events from before {purge.cutoff:%Y-%m-%d %H:%M} UTC."
            )
