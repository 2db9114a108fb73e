"""How an answer is scored against a reference: the rules `manage.py eval_answers` reports by.

Texts are compared as tokens, so that width, case, punctuation, spacing and citation markers do not
count: the text is NFKC-normalised (full-width letters and digits become ASCII) and case-folded, and
its tokens are each Han character on its own (as CMRC 2018 and DRCD score Chinese: no dictionary to
disagree with) and each run of other letters and digits. "6710 亿" and "6710亿" are both
["6710", "亿"]; "1.5B" is ["1", "5b"]; "don’t" is ["don", "t"].

- An answer *contains the reference* when the reference's tokens appear in it in order, next to each
  other. *Token F1* is SQuAD's: the harmonic mean of the shares of shared tokens in the answer and in
  the reference (counted with repetition).
- A cited passage *supports* an answer when its text contains the supporting text's tokens in order
  (as above) and, where the question names a document, it comes from a document of that name.
- A reply *refuses* when the engine gave its nothing-found reply (no passage cleared the relevance
  floor), or when the model's answer contains one of `REFUSAL_PHRASES` (tokenised alike); without a
  model, when no passage was shown.
"""

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from chat import citations
from chat.models import Message

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+")

# What a model writes when the passages do not answer the question (chat/prompting.py tells it to
# say so plainly). Matched on whole tokens, so "no information" does not match "no informational".
REFUSAL_PHRASES = (
    "do not cover",
    "does not cover",
    "don't cover",
    "doesn't cover",
    "not covered",
    "do not contain",
    "does not contain",
    "don't contain",
    "doesn't contain",
    "do not mention",
    "does not mention",
    "don't mention",
    "doesn't mention",
    "not mentioned",
    "no information",
    "no relevant information",
    "cannot answer",
    "can't answer",
    "unable to answer",
    "没有提到",
    "未提到",
    "没有提及",
    "未提及",
    "没有涉及",
    "未涉及",
    "没有包含",
    "不包含",
    "未包含",
    "没有相关信息",
    "没有找到",
    "未找到",
    "无法回答",
    "无法根据",
)


def tokens(text: str) -> list[str]:
    """The text's tokens, as the module docstring says; citation markers are not part of it."""
    plain = citations.MARKER.sub(" ", text)
    return _TOKEN.findall(unicodedata.normalize("NFKC", plain).casefold())


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether `needle` occurs in `haystack` as a contiguous run (an empty needle does not)."""
    size = len(needle)
    if not size:
        return False
    first = needle[0]
    return any(
        haystack[start] == first and list(haystack[start : start + size]) == list(needle)
        for start in range(len(haystack) - size + 1)
    )


def contains_reference(answer: str, reference: str) -> bool:
    return _contains(tokens(answer), tokens(reference))


def token_f1(answer: str, reference: str) -> float:
    said, expected = tokens(answer), tokens(reference)
    shared = sum((Counter(said) & Counter(expected)).values())
    if not shared:
        return 0.0
    precision, recall = shared / len(said), shared / len(expected)
    return 2 * precision * recall / (precision + recall)


def supports(citation: dict, *, supporting: str, document: str) -> bool:
    """Whether a cited passage (a chat.citations dict) is one the question's answer is in."""
    if document and citation.get("document") != document:
        return False
    return not supporting or _contains(tokens(citation["text"]), tokens(supporting))


_PHRASES = [tokens(phrase) for phrase in REFUSAL_PHRASES]


def refuses(*, content: str, grounding: str, mode: str, cited: int) -> bool:
    """Whether a reply declines to answer from the documents (see the module docstring)."""
    if grounding == Message.Grounding.NOT_FOUND:
        return True
    if mode == Message.Mode.RETRIEVAL_ONLY:
        return cited == 0
    said = tokens(content)
    return any(_contains(said, phrase) for phrase in _PHRASES)
