import itertools
import re
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from chat import question_translation, rate_limits
from chatsite.bad_requests import parse_id
from faq import matching as faq_matching
from knowledge import extract, floors, originals, passages, retrieval
from knowledge.models import Document, KnowledgeBase

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 50
# Passages longer than this (in characters or lines) are shown collapsed, with a "show more" toggle.
LONG_PASSAGE_CHARS = 320
LONG_PASSAGE_LINES = 6
TIMING_STEPS = {
    "embed": _("embed"),
    "dense": _("dense"),
    "lexical": _("lexical"),
    "fuse": _("fuse"),
    "fetch": _("fetch"),
    "widen": _("widen"),
    "total": _("total"),
}
_WORD = re.compile(r"[^\W_\u3400-\u9fff\uf900-\ufaff]{2,}")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}")
_LONGEST_HAN_TERM = 8


@login_required
def download(request: HttpRequest, document_id: int) -> FileResponse:
    readable = KnowledgeBase.objects.readable_by(request.user)
    document = get_object_or_404(Document, id=document_id, knowledge_base__in=readable)
    return originals.original_response(document)


@login_required
@require_GET
def passage(request: HttpRequest, document_id: int) -> HttpResponse:
    """The document's text with the cited passage (a chunk of it) highlighted; a PDF at its page."""
    readable = KnowledgeBase.objects.readable_by(request.user)
    document = get_object_or_404(Document, id=document_id, knowledge_base__in=readable)
    chunk = get_object_or_404(document.chunks, id=parse_id(request.GET.get("passage", ""), "passage"))
    if document.mime == extract.PDF:
        return redirect(originals.pdf_page_url(document, chunk.page))
    if wait := rate_limits.seconds_to_wait(rate_limits.PASSAGES, str(request.user.pk)):
        response = render(request, "429.html", {"seconds": wait}, status=429)
        response["Retry-After"] = str(wait)
        return response
    context = passages.passage_in_context(document=document, chunk=chunk)
    return render(request, "knowledge/passage.html", {"document": document, "chunk": chunk, "text": context})


class HitTestingForm(forms.Form):
    q = forms.CharField(label=_("Query"), required=False)
    mode = forms.ChoiceField(label=_("Search"), choices=KnowledgeBase.RetrievalMode.choices, required=False)
    top_k = forms.IntegerField(label=_("Passages"), min_value=1, max_value=MAX_TOP_K, required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:MAX_QUERY_CHARS]


def _query_terms(query: str) -> tuple[set[str], set[str]]:
    """The words of the query, and every run of 2 to 8 Chinese characters in it."""
    words = {word.casefold() for word in _WORD.findall(query)}
    han = {
        run[start:end]
        for run in _HAN.findall(query)
        for start in range(len(run) - 1)
        for end in range(start + 2, min(start + _LONGEST_HAN_TERM, len(run)) + 1)
    }
    return words, han


def _match_spans(text: str, words: set[str], han: set[str]) -> list[tuple[int, int]]:
    spans = [match.span() for match in _WORD.finditer(text) if match.group().casefold() in words]
    for run in _HAN.finditer(text):
        chars, at = run.group(), 0
        while at < len(chars) - 1:
            longest = min(_LONGEST_HAN_TERM, len(chars) - at)
            size = next((n for n in range(longest, 1, -1) if chars[at : at + n] in han), 0)
            if size:
                spans.append((run.start() + at, run.start() + at + size))
            at += size or 1
    return sorted(spans)


def highlight(text: str, query: str) -> SafeString:
    """The text, escaped, with the query's words and Chinese phrases wrapped in <mark>."""
    parts, done = [], 0
    for start, end in _match_spans(text, *_query_terms(query)):
        parts.append(f"{escape(text[done:start])}<mark>{escape(text[start:end])}</mark>")
        done = end
    parts.append(escape(text[done:]))
    # Safe: every piece of the text went through escape().
    return mark_safe("".join(parts).replace("</mark><mark>", ""))


def _chosen_spans(passage: retrieval.Passage) -> list[tuple[int, int]]:
    """Where the chunks the search chose are in a widened passage, in order, overlaps joined; none
    where the passage is the chunk alone."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(passage.matched):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return [] if spans in ([], [(0, len(passage.text))]) else spans


def passage_html(passage: retrieval.Passage, query: str) -> SafeString:
    """The passage as sent, the query's words marked; where it was widened around the chunks the
    search chose, those apart from the context around them."""
    text, spans = passage.text, _chosen_spans(passage)
    if not spans:
        return highlight(text, query)
    cuts = [0, *(offset for span in spans for offset in span), len(text)]
    kinds = itertools.cycle(["hit-context", "hit-chosen"])
    parts = [
        format_html('<span class="{}">{}</span>', kind, highlight(text[a:b], query))
        for kind, (a, b) in zip(kinds, itertools.pairwise(cuts), strict=False)
        if a < b
    ]
    return mark_safe("".join(parts))  # each part was built by format_html


def _milliseconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _is_long(text: str) -> bool:
    return len(text) > LONG_PASSAGE_CHARS or text.count("\n") >= LONG_PASSAGE_LINES


def _hits(result: retrieval.SearchResult, query: str) -> list[dict]:
    return [
        {
            "passage": passage,
            "html": passage_html(passage, passage.translation or query),
            "widened": bool(_chosen_spans(passage)),
            "long": _is_long(passage.text),
        }
        for passage in result.passages
    ]


@dataclass(frozen=True)
class Translation:
    """What the page says of searching the query in translation."""

    texts: list[str] = field(default_factory=list)  # the translations searched as well
    wait: int | None = None  # seconds until the user may have a query translated again


def _translation(request: HttpRequest, query: str, kb: KnowledgeBase, mode: str) -> Translation:
    """The query's translations, as the chat would search them, within the user's rate limit (which
    counts only queries the chat would translate)."""
    config = question_translation.translating_model(query)
    if config is None:
        return Translation()
    scripts = question_translation.target_scripts(question=query, knowledge_bases=[kb], mode=mode)
    if not scripts:
        return Translation()
    if wait := rate_limits.seconds_to_wait(rate_limits.TRANSLATIONS, str(request.user.pk)):
        return Translation(wait=wait)
    return Translation(async_to_sync(question_translation.translate_into)(query, scripts, config=config))


@login_required
@require_GET
def hit_testing(request: HttpRequest, slug: str) -> HttpResponse:
    readable = KnowledgeBase.objects.readable_by(request.user)
    kb = get_object_or_404(readable, slug=slug)
    form = HitTestingForm({"mode": kb.retrieval_mode, "top_k": kb.top_k, **request.GET.dict()})
    result, query, mode, curated, translation = None, "", kb.retrieval_mode, [], Translation()
    if form.is_valid() and form.cleaned_data["q"].strip():
        query, mode = form.cleaned_data["q"], form.cleaned_data["mode"] or kb.retrieval_mode
        top_k = form.cleaned_data["top_k"] or kb.top_k
        translation = _translation(request, query, kb, mode)
        result = retrieval.search(
            query=query,
            knowledge_bases=[kb],
            top_k=top_k,
            mode=mode,
            translations=translation.texts,
        )
        curated = [m for m in faq_matching.match(question=query, knowledge_bases=[kb]) if m.score > 0]
    return render(
        request,
        "knowledge/hit_testing.html",
        {
            "kb": kb,
            "knowledge_bases": readable,
            "form": form,
            "max_query_chars": MAX_QUERY_CHARS,
            "max_top_k": MAX_TOP_K,
            "query": query,
            "mode": mode,
            "hits": _hits(result, query) if result else [],
            "faq_matches": curated,
            "faq_floor": settings.FAQ_SUGGEST_FLOOR,
            "searched": result is not None,
            "translation": translation,
            "below_floor": result.below_floor if result else 0,
            "floor": floors.relevance_floor(kb, query) if query else None,
            "floor_description": floors.describe(kb, query),
            "timings": [
                (label, _milliseconds(result.timings_ms[step]))
                for step, label in TIMING_STEPS.items()
                if result and step in result.timings_ms
            ],
        },
    )
