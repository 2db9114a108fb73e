import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from chatsite.celery import app as celery_app
from knowledge import extract, ingestion, services
from knowledge.models import Document, KnowledgeBase

POLL_SECONDS = 0.5
UPLOADABLE = {*extract.SUPPORTED_EXTENSIONS, ".zip"}


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in UPLOADABLE)
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder.")
    return found


def worker_running(attempts: int = 3) -> bool:
    """Whether a worker answers a ping. The embedded file broker can hand a ping a half-written
    control file (a race inside kombu's filesystem transport), so a failed ping is asked again."""
    for _attempt in range(attempts):
        try:
            return bool(celery_app.control.ping(timeout=1.0))
        except Exception:
            time.sleep(0.2)
    return False


class Command(BaseCommand):
    help = "Ingest files, folders or .zip archives into a knowledge base, through the worker or --inline."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--kb", required=True, metavar="SLUG", help="knowledge base slug")
        parser.add_argument(
            "--create", action="store_true", help="create the knowledge base (public) if missing"
        )
        parser.add_argument(
            "--inline", action="store_true", help="process here instead of in a Celery worker"
        )

    def handle(self, *args, paths: list[str], kb: str, create: bool, inline: bool, **options) -> None:
        knowledge_base = self._knowledge_base(kb, create)
        files = _files(paths)
        if not files:
            raise CommandError("No supported files found.")
        if not inline and not worker_running():
            raise CommandError("No Celery worker answers; start one (make run) or pass --inline.")
        handles = [path.open("rb") for path in files]
        try:
            report = services.upload_files(
                knowledge_base=knowledge_base,
                files=[(path.name, File(handle)) for path, handle in zip(files, handles, strict=True)],
                enqueue=not inline,
            )
        finally:
            for handle in handles:
                handle.close()
        failures = [str(exc) for exc in report.rejected]
        for duplicate in report.duplicates:
            self.stdout.write(f"skipped: {duplicate}")
        self._follow(report.created, inline, failures)
        for reason in failures:
            self.stderr.write(self.style.ERROR(f"failed: {reason}"))
        ready = sum(1 for d in report.created if d.status == Document.Status.READY)
        self.stdout.write(f"{ready} of {len(report.created)} new documents ready in “{knowledge_base.name}”.")
        if failures:
            raise CommandError(f"{len(failures)} file(s) failed.")

    def _knowledge_base(self, slug: str, create: bool) -> KnowledgeBase:
        if create:
            return KnowledgeBase.objects.get_or_create(slug=slug, defaults={"name": slug, "is_public": True})[
                0
            ]
        try:
            return KnowledgeBase.objects.get(slug=slug)
        except KnowledgeBase.DoesNotExist:
            raise CommandError(f"No knowledge base with slug {slug!r}; add --create to make one.") from None

    def _follow(self, documents: list[Document], inline: bool, failures: list[str]) -> None:
        pending = {document.id: document for document in documents}
        group = settings.INGEST_GROUP_SIZE
        with tqdm(total=len(documents), unit="doc", disable=not documents) as bar:
            while pending:
                if inline:
                    # Scans too: there is no OCR worker to hand them to.
                    ingestion.ingest_documents(document_ids=list(pending)[:group], read_scans=True)
                else:
                    time.sleep(POLL_SECONDS)
                for fresh in Document.objects.filter(id__in=pending, status__in=["ready", "failed"]):
                    pending.pop(fresh.id).status = fresh.status
                    if fresh.status == Document.Status.FAILED:
                        failures.append(f"{fresh.title}: {fresh.error}")
                    bar.update(1)
