"""Retrieval quality on a public BEIR-format data set, measured through the product's own pipeline.

The corpus is uploaded into a throw-away knowledge base and ingested as any upload is (extraction,
chunking, embedding, index), every judged query goes through `retrieval.search`, and the chunks it
returns are collapsed to documents before scoring, so the figures are those a user of this app gets.
The metrics follow BEIR (pytrec_eval): nDCG@10 with linear gain, Recall@100 and MRR@10, averaged
over queries.

The relevance floor is not applied (the knowledge base's floor is 0): it only drops passages, and the
ranking is what is measured. With off-topic questions (`evaluate(off_topic=...)`) the run also says
what floors would do, per script of the question (`floors.floor_script`): for each floor, the share
of judged questions that would lose every passage (a false "nothing found") and the share of
off-topic questions that would still get passages; both follow from each question's best relevance.

Ranking is measured on the chunks as ranked; what would be sent is measured on the knowledge base's
top_k of them, as found and widened (knowledge.widening): how long it is, and, for data sets with an
`answers.jsonl` (`_id` of the query, `answers`: the gold answer strings), how often an answer is
inside the first passage and inside any passage of a relevant document. nDCG@10 is measured again
on the widened passages, which widening must leave alike.
"""

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.text import slugify
from tqdm import tqdm

from knowledge import floors, index_sync, ingestion, retrieval, services, widening
from knowledge.models import Chunk, Document, KnowledgeBase

# Chunks asked of search per query: several chunks of one document collapse into one, and Recall@100
# needs at least 100 documents after that wherever the corpus has them.
SEARCH_DEPTH = 300
# Floors the off-topic report tries, and the share of judged questions a chosen floor may leave with
# nothing found.
FLOORS = tuple(round(step * 0.02, 2) for step in range(31))
MAX_LOST = 0.02


class DatasetError(Exception):
    """The folder is not a readable BEIR data set; the message says what is wrong."""


@dataclass(frozen=True)
class Dataset:
    name: str
    corpus: dict[str, tuple[str, str]]  # BEIR _id -> (title, text), in file order
    queries: dict[str, str]  # only the judged ones, in file order
    qrels: dict[str, dict[str, int]]  # query id -> corpus id -> graded relevance
    answers: dict[str, list[str]] = field(default_factory=dict)  # query id -> gold answer strings


@dataclass
class Ingested:
    knowledge_base: KnowledgeBase
    beir_ids: dict[int, list[str]] = field(default_factory=dict)  # document id -> BEIR ids
    failed: list[str] = field(default_factory=list)  # BEIR ids that did not become a ready document
    seconds: float = 0.0


@dataclass
class Sent:
    """Per query, what the chat would send: as chunks, then widened."""

    chars: list[tuple[int, int]] = field(default_factory=list)
    # Per query with answers: an answer inside the first passage, inside any (chunks, then widened).
    answer_in_first: list[tuple[bool, bool]] = field(default_factory=list)
    answer_in_any: list[tuple[bool, bool]] = field(default_factory=list)
    widened_rankings: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FloorRow:
    floor: float
    lost: float  # share of judged questions left with no passage at all
    off_topic_found: float  # share of off-topic questions still given a passage


@dataclass(frozen=True)
class FloorSweep:
    script: str
    questions: int
    off_topic: int
    rows: list[FloorRow]
    chosen: (
        FloorRow | None
    )  # the fewest off-topic passages with fewer than MAX_LOST lost; None: no floor does


@dataclass(frozen=True)
class Report:
    dataset: str
    mode: str
    queries: int
    documents: int
    chunks: int
    failed: int
    ingest_s: float
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float
    knowledge_base: str
    top_k: int  # passages sent per question
    ndcg_at_10_widened: float
    sent_chars: float  # mean characters sent per question, as chunks
    sent_chars_widened: float
    answers: int  # queries with gold answers; the shares below are None without any
    answer_in_first: float | None
    answer_in_first_widened: float | None
    answer_in_any: float | None
    answer_in_any_widened: float | None
    floors: list[FloorSweep] = field(default_factory=list)

    def as_json(self) -> str:
        names = {
            "ndcg_at_10": "ndcg@10",
            "recall_at_100": "recall@100",
            "mrr_at_10": "mrr@10",
            "ndcg_at_10_widened": "ndcg@10_widened",
        }
        return json.dumps({names.get(key, key): value for key, value in asdict(self).items()})


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}, line {number}: not JSON ({exc.msg}).") from None


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields or (number == 1 and fields[0] == "query-id"):
                continue
            if len(fields) != 3:
                raise DatasetError(f"{path}, line {number}: expected query-id, corpus-id and score.")
            qrels.setdefault(fields[0], {})[fields[1]] = int(float(fields[2]))
    return qrels


def read_questions(path: Path) -> list[str]:
    """Off-topic questions: JSON Lines with a "text" field (as queries.jsonl) when the name ends in
    .jsonl, else one question per line (blank lines and lines starting with # skipped)."""
    try:
        if path.suffix == ".jsonl":
            questions = [str(row.get("text") or "") for row in _jsonl(path)]
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            questions = [line for line in lines if line.strip() and not line.startswith("#")]
    except (OSError, UnicodeDecodeError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a readable question list ({exc}).") from None
    questions = [question.strip() for question in questions if question.strip()]
    if not questions:
        raise DatasetError(f"{path}: no questions.")
    return questions


def load_dataset(folder: Path, *, split: str = "test") -> Dataset:
    """Read corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv; keep only the queries judged in the split."""
    for required in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / required).is_file():
            raise DatasetError(
                f"{folder}: no {required} (a BEIR data set has corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)."
            )
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = ", ".join(sorted(path.stem for path in (folder / "qrels").glob("*.tsv"))) or "none"
        raise DatasetError(f"{folder}: no judgements for split {split!r} (splits found: {splits}).")
    qrels = _read_qrels(qrels_path)
    corpus = {
        str(row["_id"]): (row.get("title") or "", row.get("text") or "")
        for row in _jsonl(folder / "corpus.jsonl")
    }
    queries = {
        str(row["_id"]): row["text"] for row in _jsonl(folder / "queries.jsonl") if str(row["_id"]) in qrels
    }
    if not queries:
        raise DatasetError(f"{qrels_path}: none of its queries is in queries.jsonl.")
    answers = {}
    if (folder / "answers.jsonl").is_file():
        answers = {str(row["_id"]): list(row["answers"]) for row in _jsonl(folder / "answers.jsonl")}
    return Dataset(folder.name, corpus, queries, {qid: qrels[qid] for qid in queries}, answers)


def limit_dataset(dataset: Dataset, *, queries: int | None = None, corpus: int | None = None) -> Dataset:
    """The first `queries` judged queries; the documents relevant to them plus the first `corpus` others."""
    kept_queries = dict(list(dataset.queries.items())[:queries]) if queries is not None else dataset.queries
    qrels = {qid: dataset.qrels[qid] for qid in kept_queries}
    kept_corpus = dataset.corpus
    if corpus is not None:
        relevant = {doc_id for judged in qrels.values() for doc_id, score in judged.items() if score > 0}
        others = [doc_id for doc_id in dataset.corpus if doc_id not in relevant][:corpus]
        wanted = relevant.union(others)
        kept_corpus = {doc_id: row for doc_id, row in dataset.corpus.items() if doc_id in wanted}
    return replace(dataset, corpus=kept_corpus, queries=kept_queries, qrels=qrels)


def _upload(ingested: Ingested, beir_id: str, title: str, text: str) -> Document | None:
    """Store one corpus row as `<_id>.txt`; the new document, or None when it is not one."""
    file = ContentFile((f"{title}\n\n{text}" if title else text).encode())
    report = services.upload_files(
        knowledge_base=ingested.knowledge_base, files=[(f"{beir_id}.txt", file)], enqueue=False
    )
    if report.created:
        ingested.beir_ids[report.created[0].id] = [beir_id]
        return report.created[0]
    if report.duplicates:
        # The same text under two ids: one document stands for both, as two tied results would.
        ingested.beir_ids[report.duplicates[0].existing.id].append(beir_id)
    else:
        ingested.failed.append(beir_id)
    return None


def ingest_corpus(*, knowledge_base: KnowledgeBase, corpus: dict[str, tuple[str, str]]) -> Ingested:
    """Upload every corpus row and ingest them inline, in groups as the workers do, with a progress bar."""
    ingested = Ingested(knowledge_base)
    started = time.perf_counter()
    rows = list(corpus.items())
    size = settings.INGEST_GROUP_SIZE
    with tqdm(total=len(rows), unit="doc", desc="ingest", disable=not rows) as bar:
        for start in range(0, len(rows), size):
            group = rows[start : start + size]
            documents = [_upload(ingested, beir_id, *row) for beir_id, row in group]
            ingestion.ingest_documents(document_ids=[document.id for document in documents if document])
            bar.update(len(group))
    not_ready = Document.objects.filter(knowledge_base=knowledge_base).exclude(status=Document.Status.READY)
    for document_id in not_ready.values_list("id", flat=True):
        ingested.failed += ingested.beir_ids.pop(document_id)
    ingested.seconds = time.perf_counter() - started
    return ingested


def ranked_documents(passages: Sequence[retrieval.Passage], beir_ids: dict[int, list[str]]) -> list[str]:
    """BEIR ids in the order their best chunk appears."""
    documents = dict.fromkeys(passage.document_id for passage in passages)
    return [beir_id for document_id in documents for beir_id in beir_ids.get(document_id, [])]


def ndcg_at(ranking: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    """nDCG@k as pytrec_eval's ndcg_cut: gain rel / log2(rank + 1), ideal from the judged relevances."""
    dcg = sum(judged.get(doc_id, 0) / math.log2(rank + 1) for rank, doc_id in enumerate(ranking[:k], start=1))
    ideal = sorted(judged.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranking: Sequence[str], judged: dict[str, int], k: int = 100) -> float:
    relevant = {doc_id for doc_id, rel in judged.items() if rel > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranking: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    for rank, doc_id in enumerate(ranking[:k], start=1):
        if judged.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def answer_inside(
    passages: Sequence[retrieval.Passage], answers: Sequence[str], relevant: set[int]
) -> tuple[bool, bool]:
    """Whether an answer is inside the first passage, and inside any, of a relevant document."""
    inside = [p.document_id in relevant and any(a in p.text for a in answers) for p in passages]
    return bool(inside) and inside[0], any(inside)


def _measure_sent(
    sent: Sent, *, query_id: str, passages: list[retrieval.Passage], dataset: Dataset, ingested: Ingested
) -> None:
    """What the chat would send for this query, as chunks and widened; the widened ranking."""
    top = passages[: ingested.knowledge_base.top_k]
    widened = widening.widen(top)
    sent.chars.append((sum(len(p.text) for p in top), sum(len(p.text) for p in widened)))
    ranked = widening.widen(passages[:10]) + passages[10:]
    sent.widened_rankings[query_id] = ranked_documents(ranked, ingested.beir_ids)
    answers = dataset.answers.get(query_id)
    if answers:
        judged = dataset.qrels[query_id]
        relevant = {d for d, ids in ingested.beir_ids.items() if any(judged.get(i, 0) > 0 for i in ids)}
        (first, any_), (first_widened, any_widened) = (
            answer_inside(found, answers, relevant) for found in (top, widened)
        )
        sent.answer_in_first.append((first, first_widened))
        sent.answer_in_any.append((any_, any_widened))


@dataclass
class Searched:
    rankings: dict[str, list[str]] = field(default_factory=dict)  # query id -> ranked BEIR ids
    latencies: list[float] = field(default_factory=list)  # ms per search
    best: dict[str, float | None] = field(default_factory=dict)  # query id -> best relevance; None: nothing
    sent: Sent = field(default_factory=Sent)  # for the judged queries of a data set


def run_queries(
    *, ingested: Ingested, queries: dict[str, str], mode: str, dataset: Dataset | None = None
) -> Searched:
    """Each query's ranked BEIR ids, best relevance, and the wall time of its search; and for the
    judged queries of `dataset`, what would be sent."""
    kbs = [ingested.knowledge_base]
    # Untimed: the first search loads the model and builds the lexical index.
    retrieval.search(
        query=next(iter(queries.values())), knowledge_bases=kbs, top_k=SEARCH_DEPTH, mode=mode, widen=False
    )
    searched = Searched()
    for query_id, text in tqdm(queries.items(), unit="query", desc=f"search ({mode})"):
        started = time.perf_counter()
        result = retrieval.search(query=text, knowledge_bases=kbs, top_k=SEARCH_DEPTH, mode=mode, widen=False)
        searched.latencies.append((time.perf_counter() - started) * 1000)
        searched.rankings[query_id] = ranked_documents(result.passages, ingested.beir_ids)
        searched.best[query_id] = result.passages[0].score if result.passages else None
        if dataset is not None:
            _measure_sent(
                searched.sent, query_id=query_id, passages=result.passages, dataset=dataset, ingested=ingested
            )
    return searched


def sweep_floors(
    *, script: str, judged: Sequence[float | None], off_topic: Sequence[float | None]
) -> FloorSweep:
    """Both rates at each of FLOORS, from the best relevance of each question (None: nothing found)."""

    def share_found(best: Sequence[float | None], floor: float) -> float:
        return sum(1 for score in best if score is not None and score >= floor) / len(best)

    rows = [
        FloorRow(
            floor=floor,
            lost=round(1 - share_found(judged, floor), 4),
            off_topic_found=round(share_found(off_topic, floor), 4),
        )
        for floor in FLOORS
    ]
    allowed = [row for row in rows if row.lost < MAX_LOST]
    chosen = min(allowed, key=lambda row: (row.off_topic_found, row.floor), default=None)
    return FloorSweep(script, len(judged), len(off_topic), rows, chosen)


def floor_sweeps(
    *, ingested: Ingested, searched: Searched, queries: dict[str, str], off_topic: Sequence[str], mode: str
) -> list[FloorSweep]:
    """One sweep per script that has both judged and off-topic questions."""
    off_topic_ids = {f"off-topic-{number}": text for number, text in enumerate(off_topic)}
    best_off_topic = run_queries(ingested=ingested, queries=off_topic_ids, mode=mode).best
    by_script: dict[str, tuple[list[float | None], list[float | None]]] = {}
    for query_id, text in queries.items():
        by_script.setdefault(floors.floor_script(text), ([], []))[0].append(searched.best[query_id])
    for query_id, text in off_topic_ids.items():
        by_script.setdefault(floors.floor_script(text), ([], []))[1].append(best_off_topic[query_id])
    return [
        sweep_floors(script=script, judged=judged, off_topic=off)
        for script, (judged, off) in sorted(by_script.items())
        if judged and off
    ]


def reuse_corpus(*, knowledge_base: KnowledgeBase) -> Ingested:
    """A knowledge base kept by an earlier run (`--keep`): its ready documents, named `<_id>.txt`."""
    knowledge_base.relevance_floor = 0.0  # measured without a floor, as a new one is; not saved
    ingested = Ingested(knowledge_base)
    ready = Document.objects.filter(knowledge_base=knowledge_base, status=Document.Status.READY)
    for document_id, title in ready.values_list("id", "title"):
        ingested.beir_ids[document_id] = [title.removesuffix(".txt")]
    if not ingested.beir_ids:
        raise DatasetError(f"Knowledge base {knowledge_base.slug!r} has no ready documents to evaluate.")
    return ingested


def evaluate(
    *,
    dataset: Dataset,
    mode: str,
    keep: bool = False,
    reuse: KnowledgeBase | None = None,
    off_topic: Sequence[str] = (),
) -> Report:
    """Ingest the corpus into a new knowledge base, run the judged queries, score them.

    The knowledge base is deleted afterwards, also on error or interrupt, unless `keep`. With `reuse`,
    a knowledge base kept by an earlier run of the same data set is searched instead (and kept), so
    the modes can be compared without embedding the corpus again. With `off_topic` questions, the
    report has the floor sweeps too.
    """

    def search(ingested: Ingested) -> tuple[Searched, list[FloorSweep]]:
        searched = run_queries(ingested=ingested, queries=dataset.queries, mode=mode, dataset=dataset)
        sweeps = []
        if off_topic:
            sweeps = floor_sweeps(
                ingested=ingested, searched=searched, queries=dataset.queries, off_topic=off_topic, mode=mode
            )
        return searched, sweeps

    if reuse is not None:
        ingested = reuse_corpus(knowledge_base=reuse)
        searched, sweeps = search(ingested)
        chunks = Chunk.objects.filter(knowledge_base=reuse).count()
    else:
        knowledge_base = KnowledgeBase.objects.create(
            name=f"Evaluation: {dataset.name}",
            slug=f"eval-{slugify(dataset.name)[:40]}-{uuid.uuid4().hex[:8]}",
            relevance_floor=0.0,
        )
        try:
            ingested = ingest_corpus(knowledge_base=knowledge_base, corpus=dataset.corpus)
            searched, sweeps = search(ingested)
            chunks = Chunk.objects.filter(knowledge_base=knowledge_base).count()
        finally:
            if not keep:
                services.knowledge_base_delete(knowledge_base=knowledge_base)
                index_sync.catch_up()  # this node built its index: remove it now, not at the next search
    rankings, latencies, sent = searched.rankings, searched.latencies, searched.sent

    def mean(metric: Callable[[list[str], dict[str, int]], float], ranked: dict[str, list[str]]) -> float:
        return round(float(np.mean([metric(ranked[q], dataset.qrels[q]) for q in ranked])), 4)

    def share(found: list[tuple[bool, bool]], widened: int) -> float | None:
        return round(float(np.mean([pair[widened] for pair in found])), 4) if found else None

    return Report(
        dataset=dataset.name,
        mode=mode,
        queries=len(rankings),
        documents=len(ingested.beir_ids),
        chunks=chunks,
        failed=len(ingested.failed),
        ingest_s=round(ingested.seconds, 1),
        ndcg_at_10=mean(ndcg_at, rankings),
        recall_at_100=mean(recall_at, rankings),
        mrr_at_10=mean(mrr_at, rankings),
        p50_ms=round(float(np.percentile(latencies, 50)), 1),
        p95_ms=round(float(np.percentile(latencies, 95)), 1),
        knowledge_base=ingested.knowledge_base.slug,
        top_k=ingested.knowledge_base.top_k,
        ndcg_at_10_widened=mean(ndcg_at, sent.widened_rankings),
        sent_chars=round(float(np.mean([chars[0] for chars in sent.chars])), 1),
        sent_chars_widened=round(float(np.mean([chars[1] for chars in sent.chars])), 1),
        answers=len(sent.answer_in_first),
        answer_in_first=share(sent.answer_in_first, 0),
        answer_in_first_widened=share(sent.answer_in_first, 1),
        answer_in_any=share(sent.answer_in_any, 0),
        answer_in_any_widened=share(sent.answer_in_any, 1),
        floors=sweeps,
    )
