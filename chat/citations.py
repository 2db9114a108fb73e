"""Citation markers in answers: mapping them to the passages sent."""

import re
from collections.abc import Sequence

from knowledge.locations import location_label
from knowledge.retrieval import Passage

# [1], [1, 2], and DeepSeek's own template spelling [citation:1].
MARKER = re.compile(r"\[(?:citation:\s*)?(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# How citations saved before they kept their page and heading said where the passage was.
SAVED_LOCATION = re.compile(r"p\. (\d+)(?: · (.*))?", re.DOTALL)


def passage_citation(number: int, passage: Passage) -> dict:
    faq = {"faq_pair_id": passage.faq_pair_id} if passage.faq_pair_id is not None else {}
    return faq | {
        "n": number,
        "document": passage.document_title,
        "document_id": passage.document_id,
        "chunk_id": passage.chunk_id,
        "location": passage.location,
        "page": passage.page,
        "heading": passage.heading,
        "text": passage.text,
        "score": passage.score,  # relevance in [0, 1]; citations saved before it was kept have none
    }


def shown_location(citation: dict) -> str:
    """A saved citation's location in the reader's language (the one active now)."""
    if "page" in citation:
        return location_label(page=citation["page"], heading=citation["heading"])
    saved = SAVED_LOCATION.fullmatch(citation["location"])
    if saved is None:
        return citation["location"]  # a heading alone, or nothing
    return location_label(page=int(saved[1]), heading=saved[2] or "")


def resolve(content: str, passages: Sequence[Passage]) -> tuple[str, list[dict]]:
    """Normalise markers to [n], drop those pointing to no passage, and list the passages cited."""
    cited: set[int] = set()

    def replace(match: re.Match) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(passages)]
        cited.update(valid)
        return "".join(f"[{n}]" for n in valid)

    cleaned = MARKER.sub(replace, content)
    return cleaned, [passage_citation(n, passages[n - 1]) for n in sorted(cited)]
