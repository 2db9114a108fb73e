from django.core.management.base import BaseCommand, CommandError

from knowledge import services
from knowledge.models import KnowledgeBase


class Command(BaseCommand):
    help = "Rebuild knowledge bases' search indexes from the chunks in the database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--kb", metavar="SLUG", help="only this knowledge base (default: all)")

    def handle(self, *args, kb: str | None, **options) -> None:
        knowledge_bases = KnowledgeBase.objects.filter(slug=kb) if kb else KnowledgeBase.objects.all()
        if kb and not knowledge_bases:
            raise CommandError(f"No knowledge base with slug {kb!r}.")
        for knowledge_base in knowledge_bases:
            count = services.knowledge_base_rebuild_index(knowledge_base=knowledge_base)
            self.stdout.write(f"{knowledge_base.slug}: {count} vectors")
