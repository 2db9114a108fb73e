import json
from argparse import ArgumentTypeError
from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import answer_evaluation as evaluation
from knowledge.models import KnowledgeBase


def count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Measure answer quality on a JSONL question set through the real answer engine: reference "
        "contained, token F1, citation precision, refusals of unanswerable questions, times, tokens, cost."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", metavar="DATASET")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--knowledge-base", metavar="SLUG", help="answer from this knowledge base")
        source.add_argument(
            "--documents", metavar="DIR", help="answer from these documents, in a throw-away knowledge base"
        )
        parser.add_argument(
            "--model", metavar="NAME", help="a configured model's name (default: the default)"
        )
        parser.add_argument("--limit", type=count, metavar="N", help="only the first N questions")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")

    def handle(self, *args, dataset: str, model: str | None, limit: int | None, **options) -> None:
        try:
            items = evaluation.load_dataset(Path(dataset), limit=limit)
            config = evaluation.chosen_model(model)
            with self._knowledge_base(options["knowledge_base"], options["documents"]) as knowledge_base:
                evaluation.check_documents(items, knowledge_base)
                scored = evaluation.evaluate(items, knowledge_base=knowledge_base, config=config)
                result = evaluation.report(scored, knowledge_base=knowledge_base, config=config)
        except evaluation.EvaluationError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write("\n".join(evaluation.text_lines(result)))

    def _knowledge_base(self, slug: str | None, documents: str | None):
        if documents is not None:
            return evaluation.documents_knowledge_base(Path(documents))
        knowledge_base = KnowledgeBase.objects.filter(slug=slug).first()
        if knowledge_base is None:
            raise CommandError(f"No knowledge base with the slug {slug!r}.")
        return nullcontext(knowledge_base)
