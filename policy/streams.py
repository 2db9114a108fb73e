"""Reading a model's streamed reply through the word lists.

A term may be cut across stream chunks ("敏" then "感词"), so the last characters of the text are
held back until the next chunk shows whether they start a term: as many as the longest term has
(one more than a term needs, so that a word term at the end is known to be whole before it is let
through). A term of a mask list goes out as asterisks; one of a block list withdraws the answer
before any of it is shown.
"""

from chat.providers import Content, Event, Reasoning
from policy.matching import Hit, Matcher, mask
from policy.models import WordList


class TextScreen:
    """One stream of text (the reasoning, or the answer) read through the lists."""

    def __init__(self, matcher: Matcher, found: list[Hit]) -> None:
        self._matcher = matcher
        self._found = found  # hits in the text let through, for the audit log
        self._pending = ""
        self._before = ""  # the last character let through: whether a word term starts a word
        self.blocked: Hit | None = None

    def feed(self, text: str) -> str:
        """The text that may be shown now (terms masked); the rest is held back."""
        self._pending += text
        return self._release(final=False)

    def finish(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        pending = self._pending
        if not self._matcher:  # no word lists: nothing to hold back or mask, token by token
            self._pending = ""
            return pending
        hits = self._matcher.find(pending, context_before=self._before, text_ends=final)
        block = next((hit for hit in hits if hit.action == WordList.Action.BLOCK), None)
        if block is not None or self.blocked is not None:
            self.blocked = self.blocked or block
            self._found.extend(hits)
            self._pending = ""
            return ""
        cut = len(pending) if final else max(0, len(pending) - self._matcher.longest)
        while straddling := [hit.end for hit in hits if hit.start < cut < hit.end]:
            cut = max(straddling)  # a whole term goes out with what comes before it
        released = [hit for hit in hits if hit.end <= cut]
        self._found.extend(released)
        self._before = pending[cut - 1] if cut else self._before
        self._pending = pending[cut:]
        masked = [hit for hit in released if hit.action == WordList.Action.MASK]
        return mask(pending[:cut], masked) if masked else pending[:cut]


class AnswerScreen:
    """The model's events as they may be shown: reasoning and answer text screened, in order."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._found: list[Hit] = []
        self._reported: set[tuple[int, str]] = set()
        self._reasoning = TextScreen(matcher, self._found)
        self._content = TextScreen(matcher, self._found)
        self._tentative = False

    @property
    def blocked(self) -> Hit | None:
        return self._reasoning.blocked or self._content.blocked

    def read(self, event: Event) -> list[Event]:
        match event:
            case Reasoning(text=text, tentative=tentative):
                self._tentative = tentative
                return self._reasoning_out(self._reasoning.feed(text))
            case Content(text=text, replaces_reasoning=True):
                # All that streamed as reasoning comes again as the answer: what is held goes with it.
                self._reasoning = TextScreen(self._matcher, self._found)
                return [Content(self._content.feed(text), replaces_reasoning=True)]
            case Content(text=text):
                reasoning_end = self._reasoning_out(self._reasoning.finish())
                return reasoning_end + self._content_out(self._content.feed(text))
        return [*self.finish(), event]

    def finish(self) -> list[Event]:
        """Everything held back, at the end of the reply (or when it is stopped)."""
        return self._reasoning_out(self._reasoning.finish()) + self._content_out(self._content.finish())

    def new_hits(self) -> list[Hit]:
        """Hits of terms not reported before in this answer."""
        fresh = []
        for hit in self._found:
            if (hit.list_id, hit.term) not in self._reported:
                self._reported.add((hit.list_id, hit.term))
                fresh.append(hit)
        self._found.clear()
        return fresh

    def _reasoning_out(self, text: str) -> list[Event]:
        return [Reasoning(text, self._tentative)] if text else []

    def _content_out(self, text: str) -> list[Event]:
        return [Content(text)] if text else []
