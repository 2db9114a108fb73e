from django.core.management.base import BaseCommand, CommandError

from knowledge import services
from knowledge.models import KnowledgeBase


class Command(BaseCommand):
    help = "Compare each knowledge base's index with its chunks; exit non-zero on any mismatch."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--kb", metavar="SLUG", help="only this knowledge base (default: all)")

    def handle(self, *args, kb: str | None, **options) -> None:
        knowledge_bases = KnowledgeBase.objects.filter(slug=kb) if kb else KnowledgeBase.objects.all()
        bad = 0
        for knowledge_base in knowledge_bases:
            check = services.knowledge_base_check_index(knowledge_base=knowledge_base)
            line = f"{knowledge_base.slug}: {check.chunks} chunks, {check.vectors} vectors"
            if check.ok:
                self.stdout.write(f"{line}: ok")
            else:
                bad += 1
                detail = f"{check.missing} chunks without a vector, {check.orphans} vectors without a chunk"
                self.stdout.write(self.style.ERROR(f"{line}: MISMATCH ({detail}); run rebuild_index"))
        if bad:
            raise CommandError(f"{bad} knowledge base(s) out of step with the database.")
