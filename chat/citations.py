"""Citation markers in answers: mapping them to the passages sent."""

import re
from collections.abc import Sequence

from knowledge.retrieval import Passage

# [1], [1, 2], and DeepSeek's own template spelling [citation:1].
MARKER = re.compile(r"\[(?:citation:\s*)?(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def passage_citation(number: int, passage: Passage) -> dict:
    return {
        "n": number,
        "document": passage.document_title,
        "document_id": passage.document_id,
        "chunk_id": passage.chunk_id,
        "location": passage.location,
        "text": passage.text,
    }


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
