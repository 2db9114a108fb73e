from argparse import ArgumentTypeError
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge import evaluation, retrieval
from knowledge.models import KnowledgeBase


def count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return int(value)


def sent_lines(report: evaluation.Report) -> str:
    """What would be sent, as chunks and widened (knowledge.widening)."""
    lines = [
        f"Sent (top {report.top_k}), as chunks → widened:",
        f"nDCG@10        {report.ndcg_at_10:.4f} → {report.ndcg_at_10_widened:.4f}",
        f"characters     {report.sent_chars:.0f} → {report.sent_chars_widened:.0f} per question",
    ]
    first, first_widened = report.answer_in_first, report.answer_in_first_widened
    any_, any_widened = report.answer_in_any, report.answer_in_any_widened
    if first is not None and first_widened is not None and any_ is not None and any_widened is not None:
        lines += [
            f"answer, first  {first:.4f} → {first_widened:.4f}",
            f"answer, any    {any_:.4f} → {any_widened:.4f} ({report.answers} questions with answers)",
        ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Measure retrieval quality on a BEIR-format data set (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv), "
        "ingested into a throw-away knowledge base: nDCG@10, Recall@100, MRR@10 and query latency; what "
        "would be sent as chunks and widened, and with an answers.jsonl how often it holds the answer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset_dir", metavar="DATASET_DIR")
        parser.add_argument("--split", default="test", help="qrels/SPLIT.tsv to judge by (default: test)")
        parser.add_argument("--mode", choices=retrieval.MODES, default="hybrid")
        parser.add_argument(
            "--limit-queries", type=count, metavar="N", help="only the first N judged queries"
        )
        parser.add_argument(
            "--limit-corpus", type=count, metavar="N", help="only the relevant documents plus N others"
        )
        parser.add_argument("--keep", action="store_true", help="keep the knowledge base for inspection")
        parser.add_argument(
            "--reuse",
            metavar="SLUG",
            help="search a knowledge base kept by an earlier run of this data set instead of ingesting it",
        )
        parser.add_argument(
            "--off-topic",
            metavar="FILE",
            help="questions the corpus cannot answer (one per line, or JSON Lines with a text field): "
            "report, per floor, judged questions left with nothing and off-topic ones still given passages",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")

    def handle(
        self, *args, dataset_dir: str, split: str, mode: str, keep: bool, json: bool, **options
    ) -> None:
        try:
            dataset = evaluation.load_dataset(Path(dataset_dir), split=split)
            off_topic = evaluation.read_questions(Path(options["off_topic"])) if options["off_topic"] else []
        except evaluation.DatasetError as exc:
            raise CommandError(str(exc)) from None
        dataset = evaluation.limit_dataset(
            dataset, queries=options["limit_queries"], corpus=options["limit_corpus"]
        )
        reuse = None
        if options["reuse"]:
            reuse = KnowledgeBase.objects.filter(slug=options["reuse"]).first()
            if reuse is None:
                raise CommandError(f"No knowledge base with the slug {options['reuse']!r}.")
        try:
            report = evaluation.evaluate(
                dataset=dataset, mode=mode, keep=keep, reuse=reuse, off_topic=off_topic
            )
        except evaluation.DatasetError as exc:
            raise CommandError(str(exc)) from None
        if report.failed:
            self.stderr.write(self.style.WARNING(f"{report.failed} document(s) failed to ingest."))
        self.stdout.write(
            f"{report.dataset} ({split}), {mode}: {report.queries} queries, {report.documents} documents, "
            f"{report.chunks} chunks, ingested in {report.ingest_s} s\n"
            f"nDCG@10     {report.ndcg_at_10:.4f}\n"
            f"Recall@100  {report.recall_at_100:.4f}\n"
            f"MRR@10      {report.mrr_at_10:.4f}\n"
            f"latency     p50 {report.p50_ms} ms, p95 {report.p95_ms} ms\n" + sent_lines(report)
        )
        if off_topic:
            self._write_floors(report.floors)
        if keep or reuse:
            self.stdout.write(f"Kept the knowledge base “{report.knowledge_base}”.")
        if json:
            self.stdout.write(report.as_json())

    def _write_floors(self, sweeps: list[evaluation.FloorSweep]) -> None:
        if not sweeps:
            self.stdout.write("No off-topic question is in the script of a judged one: no floors to report.")
        for sweep in sweeps:
            self.stdout.write(
                f"\nFloors for {sweep.script} questions "
                f"({sweep.questions} judged, {sweep.off_topic} off-topic)\n"
                "floor  nothing found (judged)  passages (off-topic)"
            )
            for row in sweep.rows:
                mark = "  <- chosen" if row == sweep.chosen else ""
                self.stdout.write(f"{row.floor:.2f}   {row.lost:>20.1%}  {row.off_topic_found:>20.1%}{mark}")
            if sweep.chosen is None:
                self.stdout.write(
                    f"No floor leaves fewer than {evaluation.MAX_LOST:.0%} of judged questions with nothing."
                )
