from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import retention


class Command(BaseCommand):
    help = (
        "Remove audit events older than AUDIT_RETENTION_DAYS (or --days); the purge is itself recorded. "
        "The sweeper worker runs it daily."
    )

    def add_arguments(self, parser) -> None:
        minimum = settings.AUDIT_RETENTION_MIN_DAYS
        parser.add_argument(
            "--days",
            type=int,
            help=f"keep this many days instead of AUDIT_RETENTION_DAYS (0: keep all, else {minimum} or more)",
        )

    def handle(self, *args, days: int | None, **options) -> None:
        days = settings.AUDIT_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        if 0 < days < settings.AUDIT_RETENTION_MIN_DAYS:
            minimum = settings.AUDIT_RETENTION_MIN_DAYS
            raise CommandError(f"--days must be 0 or at least {minimum}: quotas count a month of questions.")
        purge = retention.purge_expired(days=days)
        if purge.cutoff is None:
            self.stdout.write("Retention is 0 days: audit events are kept forever.")
        else:
            self.stdout.write(
                f"Removed {purge.removed} audit events from before {purge.cutoff:%Y-%m-%d %H:%M} UTC."
            )
