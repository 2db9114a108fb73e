"""A conversation exported as Markdown or JSON, as shown now (the versions of answers chosen), for the
export links of the chat page and the REST API alike.

Markdown: the title, each question and answer, the answer's citation markers as footnotes
(`[^n]: Document title, location — “excerpt”`) and, when asked for, its reasoning as a blockquote.
Footnote labels are unique in a file: the first answer's [1] and [2] are [^1] and [^2], and a later
answer's continue from there. JSON: see `conversation_json` (and the README).
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _

from audit.log import record
from audit.models import Event
from chat.citations import MARKER, shown_location
from chat.models import Conversation, Message
from chat.sharing import shown_messages

# Each format's file extension and content type.
FORMATS = {"markdown": ("md", "text/markdown; charset=utf-8"), "json": ("json", "application/json")}
# A passage this short is quoted under its footnote; longer ones are named by document and place only.
MAX_EXCERPT_CHARS = 200
MAX_FILENAME_CHARS = 80
# What a file name may not hold on common systems; Chinese and other letters stay.
_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _footnote(label: int, citation: dict) -> str:
    parts = [_one_line(citation["document"])]
    if location := shown_location(citation):
        parts.append(_one_line(location))
    note = ", ".join(parts)
    excerpt = _one_line(citation.get("text", ""))
    if excerpt and len(excerpt) <= MAX_EXCERPT_CHARS:
        note += f" — “{excerpt}”"
    return f"[^{label}]: {note}"


def _with_footnotes(content: str, cited: list[dict], first_label: int) -> tuple[str, list[str]]:
    """The answer with its valid markers as footnote references, and the footnotes, labelled from
    `first_label` in the order of the message's citations. A citation the text does not mark (the
    passages of a retrieval-only answer) is referenced under it, so its footnote is not lost."""
    labels = {c["n"]: first_label + i for i, c in enumerate(cited)}
    marked: set[int] = set()

    def reference(match: re.Match) -> str:
        pieces = []
        for number in (int(n) for n in match.group(1).split(",")):
            if number in labels:
                marked.add(number)
                pieces.append(f"[^{labels[number]}]")
            else:
                pieces.append(f"[{number}]")
        return "".join(pieces)

    text = MARKER.sub(reference, content)
    unmarked = [labels[c["n"]] for c in cited if c["n"] not in marked]
    if unmarked:
        text += "\n\n" + _("Sources:") + " " + " ".join(f"[^{label}]" for label in unmarked)
    return text, [_footnote(labels[c["n"]], c) for c in cited]


def _reasoning_quote(reasoning: str) -> str:
    # Translated outside the f-string: xgettext finds no call inside one.
    label = _("Reasoning")
    lines = [f"> **{label}**", ">"]
    lines += [f"> {line}".rstrip() for line in reasoning.strip().splitlines()]
    return "\n".join(lines)


def _answer_markdown(message: Message, *, reasoning: bool, first_label: int) -> tuple[str, int]:
    """An answer's section and how many footnotes it used."""
    heading = _("Answer")
    parts = [f"## {heading}"]
    if reasoning and message.reasoning.strip() and message.mode != Message.Mode.RETRIEVAL_ONLY:
        parts.append(_reasoning_quote(message.reasoning))
    text, notes = _with_footnotes(message.content.strip(), message.citations, first_label)
    if text.strip():
        parts.append(text)
    if message.status == Message.Status.FAILED:
        parts.append("*" + _one_line(message.error or _("The answer could not be completed.")) + "*")
    elif message.status == Message.Status.STOPPED:
        parts.append("*" + _("Stopped. The answer may be incomplete.") + "*")
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts), len(notes)


def _heading_lines(conversation: Conversation) -> list[str]:
    names = ", ".join(conversation.knowledge_bases.order_by("name").values_list("name", flat=True))
    about = [_("Exported %(date)s") % {"date": date_format(timezone.localtime(), "DATETIME_FORMAT")}]
    if names:
        about.append(_("Knowledge bases: %(names)s") % {"names": names})
    if conversation.model:
        about.append(_("Model: %(model)s") % {"model": conversation.model})
    return [f"# {_one_line(str(conversation))}", "*" + " · ".join(about) + "*"]


def conversation_markdown(*, conversation: Conversation, reasoning: bool = False) -> str:
    """The conversation as a Markdown document; with `reasoning`, each answer's reasoning too."""
    parts = _heading_lines(conversation)
    label = 1
    for message in shown_messages(conversation=conversation):
        if message.role == Message.Role.USER:
            heading = _("Question")
            parts.append(f"## {heading}\n\n{message.content.strip()}")
        else:
            section, used = _answer_markdown(message, reasoning=reasoning, first_label=label)
            parts.append(section)
            label += used
    return "\n\n".join(parts) + "\n"


def _when(moment: datetime) -> str:
    return moment.isoformat()


def _citation_json(citation: dict) -> dict:
    return {
        "n": citation["n"],
        "document": citation["document"],
        "document_id": citation.get("document_id") or None,
        "faq_pair_id": citation.get("faq_pair_id"),
        "location": shown_location(citation),
        "page": citation.get("page"),
        "heading": citation.get("heading", ""),
        "text": citation.get("text", ""),
        "relevance": citation.get("score"),
    }


def _message_json(message: Message) -> dict:
    return {
        "id": message.id,
        "role": message.role,
        "status": message.status,
        "content": message.content,
        "reasoning": message.reasoning,
        "citations": [_citation_json(c) for c in message.citations],
        "model": message.model,
        "created_at": _when(message.created_at),
        "rating": message.rating or None,
    }


def conversation_json(*, conversation: Conversation) -> dict:
    """The conversation and its shown messages, as data (the shape is in the README and the API
    schema, api/export_serializers.py). The technical detail of failures is never included."""
    knowledge_bases = conversation.knowledge_bases.order_by("name")
    return {
        "conversation": {
            "id": conversation.id,
            "title": conversation.title,
            "knowledge_bases": [{"slug": kb.slug, "name": kb.name} for kb in knowledge_bases],
            "model": conversation.model,
            "created_at": _when(conversation.created_at),
            "updated_at": _when(conversation.updated_at),
        },
        "messages": [_message_json(m) for m in shown_messages(conversation=conversation)],
        "exported_at": _when(timezone.now()),
    }


def export_filename(conversation: Conversation, extension: str) -> str:
    """The title as a file name, Chinese kept (sent as RFC 5987 filename* by `attachment_header`)."""
    name = _UNSAFE_IN_NAME.sub(" ", str(conversation)).strip(" .")
    name = _one_line(name)[:MAX_FILENAME_CHARS].strip() or slugify(f"conversation {conversation.id}")
    return f"{name}.{extension}"


def attachment_header(filename: str) -> str:
    """Content-Disposition for a download: an ASCII filename and, for any other name, filename*."""
    header = content_disposition_header(as_attachment=True, filename=filename)
    assert header is not None  # always one for an attachment
    return header


@dataclass(frozen=True)
class Export:
    body: str
    content_type: str
    filename: str


def conversation_export(*, conversation: Conversation, kind: str, reasoning: bool, request=None) -> Export:
    """The conversation in `kind` (a key of FORMATS), recorded in the audit log as its owner's export."""
    if kind == "json":
        body = json.dumps(conversation_json(conversation=conversation), ensure_ascii=False, indent=2)
    else:
        body = conversation_markdown(conversation=conversation, reasoning=reasoning)
    record(
        Event.Kind.EXPORT,
        user=conversation.user,
        request=request,
        target=f"conversation:{conversation.id}",
        summary=conversation.title,
        format=kind,
        reasoning=reasoning,
    )
    extension, content_type = FORMATS[kind]
    return Export(body, content_type, export_filename(conversation, extension))
