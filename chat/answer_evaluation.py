"""Answer quality on a set of questions, measured through the real answer engine.

Each question goes through `engine.Answer` exactly as the chat page's and the `ask` command's do
(retrieval, relevance floor, nothing-found reply, FAQ, content policy, the configured model), with
no user: nothing counts against anyone's quota, and each question is written to the audit log like
any other. The data set is JSON Lines, one question per line:

    {"question": "DeepSeek-V3 有多少参数？", "answer": "6710亿",
     "supporting": "DeepSeek-V3的6710亿（671B）参数", "document": "guide.md"}
    {"question": "公司员工每年有多少天年假？", "answer": null}

`answer` is the reference answer; null or absent marks a question the documents do not answer,
which must be refused. An answerable question names its supporting passage by a short text that
passage contains (`supporting`), the file name of its document (`document`), or both. How answers
are scored is chat/answer_scoring.py's.
"""

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files import File
from tqdm import tqdm

from chat import answer_scoring, engine, llm
from chat.answering import MAX_QUESTION_CHARS
from chat.models import Message
from chat.providers import ModelConfig
from knowledge import extract, index_sync, ingestion, services
from knowledge.models import TITLE_CHARS, Document, KnowledgeBase

MAX_DATASET_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 1000
MAX_REFERENCE_CHARS = 2000  # an answer's or a supporting text's
MAX_DOCUMENTS = 1000  # files in a --documents folder
FIELDS = ("question", "answer", "supporting", "document")


class EvaluationError(Exception):
    """The data set, the documents or the model asked for cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class Item:
    line: int
    question: str
    answer: str | None  # None: the documents do not answer it
    supporting: str = ""
    document: str = ""


@dataclass(frozen=True)
class Scored:
    """One question's answer and its scores; None where a score does not apply to it."""

    line: int
    question: str
    reference: str | None
    answer: str
    mode: str
    grounding: str
    status: str
    error: str  # the code of the error that ended the answer, or that made it fall back to passages
    contains_reference: bool | None
    token_f1: float | None
    refused: bool
    citations: int
    supporting_citations: int | None
    citation_precision: float | None
    first_token_ms: int | None
    total_ms: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None


def load_dataset(path: Path, *, limit: int | None = None) -> list[Item]:
    """The questions of a data set file, or EvaluationError naming the line and the problem."""
    if not path.is_file():
        raise EvaluationError(f"{path}: no such file.")
    if path.stat().st_size > MAX_DATASET_BYTES:
        raise EvaluationError(f"{path}: larger than {MAX_DATASET_BYTES:,} bytes.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    items: list[Item] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if len(items) == MAX_QUESTIONS:
                raise EvaluationError(f"{path}: more than {MAX_QUESTIONS} questions.")
            items.append(_item(line, number, where=f"{path}, line {number}"))
    if not items:
        raise EvaluationError(f"{path}: no questions.")
    return items[:limit]


def _item(line: str, number: int, *, where: str) -> Item:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{where}: not JSON ({exc.msg}).") from None
    if not isinstance(row, dict):
        raise EvaluationError(f"{where}: expected a JSON object.")
    if unknown := sorted(set(row) - set(FIELDS)):
        raise EvaluationError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)}).")
    question = _text(row, "question", where, MAX_QUESTION_CHARS, required=True)
    answer = _text(row, "answer", where, MAX_REFERENCE_CHARS) if row.get("answer") is not None else None
    supporting = _text(row, "supporting", where, MAX_REFERENCE_CHARS)
    document = _text(row, "document", where, TITLE_CHARS)
    if answer is not None and not (supporting or document):
        raise EvaluationError(f"{where}: an answerable question needs a supporting text or a document.")
    if answer is None and (supporting or document):
        raise EvaluationError(
            f"{where}: a question without an answer is one the documents do not answer; "
            "it has no supporting text or document."
        )
    return Item(number, question, answer, supporting, document)


def _text(row: dict, name: str, where: str, limit: int, *, required: bool = False) -> str:
    """The field's text: a string with something to compare (a token), at most `limit` characters."""
    value = row.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not answer_scoring.tokens(value):
        raise EvaluationError(f"{where}: {name} must be a string with letters or digits in it.")
    if len(value) > limit:
        raise EvaluationError(f"{where}: {name} is longer than {limit} characters.")
    return value


def chosen_model(name: str | None) -> ModelConfig | None:
    """The configured model of this name; the default one without a name; None in retrieval-only mode."""
    configured = llm.models()
    if name is None:
        return configured[0] if configured else None
    if not configured:
        raise EvaluationError("No language model is configured, so --model has none to choose from.")
    found = next((config for config in configured if config.name == name), None)
    if found is None:
        names = ", ".join(repr(config.name) for config in configured)
        raise EvaluationError(f"No model named {name!r}; configured: {names}.")
    return found


def check_documents(items: list[Item], knowledge_base: KnowledgeBase) -> None:
    """Refuse a data set naming a document the knowledge base lacks: its citations could never count."""
    titles = set(
        knowledge_base.documents.filter(status=Document.Status.READY).values_list("title", flat=True)
    )
    for item in items:
        if item.document and item.document not in titles:
            raise EvaluationError(
                f"Line {item.line}: no ready document {item.document!r} in the knowledge base "
                f"{knowledge_base.slug!r}."
            )


@contextmanager
def documents_knowledge_base(folder: Path) -> Iterator[KnowledgeBase]:
    """A throw-away knowledge base holding the folder's documents, ingested here; deleted afterwards,
    also on error or interrupt."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extract.SUPPORTED_EXTENSIONS
    )
    if not files:
        raise EvaluationError(f"{folder}: no documents ({', '.join(extract.SUPPORTED_EXTENSIONS)}).")
    if len(files) > MAX_DOCUMENTS:
        raise EvaluationError(f"{folder}: more than {MAX_DOCUMENTS} documents.")
    slug = f"eval-answers-{uuid.uuid4().hex[:8]}"
    knowledge_base = KnowledgeBase.objects.create(name=f"Evaluation: {folder.name}", slug=slug)
    try:
        _ingest(knowledge_base, files)
        yield knowledge_base
    finally:
        services.knowledge_base_delete(knowledge_base=knowledge_base)
        index_sync.catch_up()  # this node built its index: remove it now, not at the next search


def _ingest(knowledge_base: KnowledgeBase, files: list[Path]) -> None:
    for path in tqdm(files, unit="doc", desc="ingest"):
        with path.open("rb") as handle:
            report = services.upload_files(
                knowledge_base=knowledge_base, files=[(path.name, File(handle))], enqueue=False
            )
        if report.rejected:
            raise EvaluationError(f"{path}: {report.rejected[0]}")
        ingestion.ingest_documents(document_ids=[d.id for d in report.created], read_scans=True)
    failed = knowledge_base.documents.exclude(status=Document.Status.READY).values_list("title", "error")
    if failed:
        raise EvaluationError("Not ingested: " + "; ".join(f"{title}: {error}" for title, error in failed))


async def _outcome(
    item: Item, *, knowledge_base: KnowledgeBase, config: ModelConfig | None
) -> engine.Outcome:
    question = engine.Question(text=item.question, knowledge_bases=[knowledge_base], config=config)
    async with aclosing(engine.Answer(question).events()) as events:
        async for event in events:
            if isinstance(event, engine.Outcome):
                return event
    raise AssertionError("the answer engine always ends with an Outcome")


async def _outcomes(
    items: list[Item], *, knowledge_base: KnowledgeBase, config: ModelConfig | None
) -> list[engine.Outcome]:
    """One question at a time, so that each one's times are its own."""
    return [
        await _outcome(item, knowledge_base=knowledge_base, config=config)
        for item in tqdm(items, unit="question", desc="answer")
    ]


def score(item: Item, outcome: engine.Outcome, *, with_model: bool) -> Scored:
    """One answer's scores. With a model, an answer that failed or fell back to passages counts as
    an empty answer; without one there is no written answer to score, only the passages shown."""
    answered = outcome.status != Message.Status.FAILED and outcome.mode == Message.Mode.LLM
    replied = answered or not with_model  # what is scored: the reply, or without a model the passages
    content = outcome.content if replied else ""
    cited = outcome.citations if replied else []
    supported = None
    if item.answer is not None:
        supported = sum(
            answer_scoring.supports(c, supporting=item.supporting, document=item.document) for c in cited
        )
    written = with_model and item.answer is not None
    usage, timings = outcome.usage, outcome.timings
    first = [ms for ms in (timings["first_reasoning_ms"], timings["first_content_ms"]) if ms is not None]
    return Scored(
        line=item.line,
        question=item.question,
        reference=item.answer,
        answer=outcome.content,
        mode=outcome.mode,
        grounding=outcome.grounding,
        status=outcome.status,
        error=outcome.error.code if outcome.error else "",
        contains_reference=answer_scoring.contains_reference(content, item.answer or "") if written else None,
        token_f1=round(answer_scoring.token_f1(content, item.answer or ""), 4) if written else None,
        refused=replied
        and answer_scoring.refuses(
            content=content, grounding=outcome.grounding, mode=outcome.mode, cited=len(cited)
        ),
        citations=len(cited),
        supporting_citations=supported,
        citation_precision=round(supported / len(cited), 4) if supported is not None and cited else None,
        first_token_ms=min(first, default=None),
        total_ms=timings["total_ms"],
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        reasoning_tokens=usage.reasoning_tokens if usage else None,
        cost_usd=outcome.cost_usd,
    )


def evaluate(items: list[Item], *, knowledge_base: KnowledgeBase, config: ModelConfig | None) -> list[Scored]:
    outcomes = asyncio.run(_outcomes(items, knowledge_base=knowledge_base, config=config))
    return [
        score(item, outcome, with_model=config is not None)
        for item, outcome in zip(items, outcomes, strict=True)
    ]


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _percentiles(values: list[int | None]) -> dict[str, float | None]:
    known = [value for value in values if value is not None]
    if not known:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(known, 50))), "p95": round(float(np.percentile(known, 95)))}


def _total(values: list[Any]) -> Any:
    """The sum of the values known; None when none is (no usage reported, no price configured)."""
    known = [value for value in values if value is not None]
    return round(sum(known), 6) if known else None


def summary(scored: list[Scored], *, knowledge_base: KnowledgeBase, config: ModelConfig | None) -> dict:
    """The figures over all questions: shares and means over the questions each applies to."""
    answerable = [s for s in scored if s.reference is not None]
    unanswerable = [s for s in scored if s.reference is None]
    citing = [s.citation_precision for s in answerable if s.citation_precision is not None]
    return {
        "model": config.name if config else None,
        "mode": Message.Mode.LLM if config else Message.Mode.RETRIEVAL_ONLY,
        "knowledge_base": knowledge_base.slug,
        "questions": len(scored),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "contains_reference": _share(
            [s.contains_reference for s in answerable if s.contains_reference is not None]
        ),
        "token_f1": _mean([s.token_f1 for s in answerable if s.token_f1 is not None]),
        "citation_precision": _mean(citing),
        # The share of answerable questions with a supporting passage among those cited (or shown).
        "cites_supporting": _share([bool(s.supporting_citations) for s in answerable]),
        "uncited": sum(1 for s in answerable if not s.citations and not s.refused),
        "refusal_accuracy": _share([s.refused for s in unanswerable]),
        "false_refusals": sum(1 for s in answerable if s.refused),
        "failed": sum(1 for s in scored if s.error),
        "first_token_ms": _percentiles([s.first_token_ms for s in scored]),
        "total_ms": _percentiles([s.total_ms for s in scored]),
        "prompt_tokens": _total([s.prompt_tokens for s in scored]),
        "completion_tokens": _total([s.completion_tokens for s in scored]),
        "reasoning_tokens": _total([s.reasoning_tokens for s in scored]),
        "cost_usd": _total([s.cost_usd for s in scored]),
    }


def report(scored: list[Scored], *, knowledge_base: KnowledgeBase, config: ModelConfig | None) -> dict:
    return {
        "summary": summary(scored, knowledge_base=knowledge_base, config=config),
        "questions": [asdict(s) for s in scored],
    }


def _shown(value: Any, form: str = "{:.4f}") -> str:
    return "-" if value is None else form.format(value)


def text_lines(result: dict) -> list[str]:
    """The report as a person reads it: the figures, then one line per question."""
    s = result["summary"]
    model = (
        f"model {s['model']}"
        if s["model"]
        else "no model (retrieval-only: passages shown, no written answer)"
    )
    first, total = s["first_token_ms"], s["total_ms"]
    lines = [
        f"{s['questions']} questions ({s['answerable']} answerable, {s['unanswerable']} unanswerable), "
        f"knowledge base {s['knowledge_base']}, {model}",
        f"contains reference  {_shown(s['contains_reference'])}",
        f"token F1            {_shown(s['token_f1'])}",
        f"citation precision  {_shown(s['citation_precision'])}   answered without citing: {s['uncited']}",
        f"cites supporting    {_shown(s['cites_supporting'])}",
        f"refusal accuracy    {_shown(s['refusal_accuracy'])}   "
        f"answerable questions refused: {s['false_refusals']}",
        f"failed              {s['failed']}",
        f"first token         p50 {_shown(first['p50'], '{} ms')}, p95 {_shown(first['p95'], '{} ms')}",
        f"total               p50 {_shown(total['p50'], '{} ms')}, p95 {_shown(total['p95'], '{} ms')}",
        f"tokens              prompt {_shown(s['prompt_tokens'], '{}')}, completion "
        f"{_shown(s['completion_tokens'], '{}')} (reasoning {_shown(s['reasoning_tokens'], '{}')})",
        f"cost                {_shown(s['cost_usd'], '${:.6f}')}",
        "",
        "line  contains  F1      cited  refused  question",
    ]
    for q in result["questions"]:
        contains = "-" if q["contains_reference"] is None else "yes" if q["contains_reference"] else "no"
        cited = (
            f"{q['supporting_citations']}/{q['citations']}"
            if q["reference"] is not None
            else f"{q['citations']}"
        )
        refused = "yes" if q["refused"] else "no"
        failed = f"  [{q['status']}: {q['error']}]" if q["error"] else ""
        lines.append(
            f"{q['line']:<5} {contains:<9} {_shown(q['token_f1']):<7} {cited:<6} {refused:<8} "
            f"{q['question'][:60]}{failed}"
        )
    return lines
