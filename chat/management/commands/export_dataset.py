import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chat import datasets


class Command(BaseCommand):
    help = (
        "Write answered questions as a fine-tuning data set (JSON lines in the chat format, with the "
        "messages the model was sent and its reasoning), without personal data unless it is kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("out", metavar="OUT.jsonl", help="the file to write; - for standard output")
        parser.add_argument(
            "--kb", action="append", default=[], metavar="SLUG", help="only this knowledge base"
        )
        parser.add_argument(
            "--since", metavar="DATE", help="only answers from this ISO date or date and time"
        )
        parser.add_argument("--rating", choices=["up"], help="only answers rated good")
        parser.add_argument("--model", default="", metavar="NAME", help="only this model (id or name)")
        parser.add_argument(
            "--keep-personal-data", action="store_true", help="keep names, e-mail addresses and phone numbers"
        )

    def handle(self, *args, out: str, kb: list[str], since: str | None, **options) -> None:
        if unknown := datasets.unknown_slugs(tuple(kb)):
            raise CommandError(f"No knowledge base with slug {unknown[0]!r}.")
        try:
            moment = datasets.parse_since(since) if since else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        filters = datasets.Filters(
            knowledge_bases=tuple(kb), since=moment, rating_up=bool(options["rating"]), model=options["model"]
        )
        keep = options["keep_personal_data"]
        answers = datasets.selected(filters=filters)
        found = datasets.counts(answers)
        written = self._write(out, datasets.lines(answers, keep_personal_data=keep))
        found = datasets.Counts(exported=written, skipped=found.skipped)  # answers may have come since
        datasets.record_export(filters=filters, found=found, keep_personal_data=keep, via="manage.py")
        skipped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in found.skipped.items())
        self.stderr.write(f"Answers written: {written}." + (f" Skipped: {skipped}." if skipped else ""))

    def _write(self, out: str, lines: Iterable[str]) -> int:
        """Write the lines to `out` (standard output for -) and count them. A file is written beside
        its final name and renamed into place when complete: a failure leaves no half-written file."""
        if out == "-":
            return _write_lines(lambda line: self.stdout.write(line, ending=""), lines)
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(f"No folder {str(target.parent)!r} to write {target.name!r} in.")
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                written = _write_lines(stream.write, lines)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        return written


def _write_lines(write: Callable[[str], object], lines: Iterable[str]) -> int:
    written = 0
    for line in lines:
        write(line)
        written += 1
    return written
