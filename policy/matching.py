"""Finding the terms of every word list in a text: one Aho–Corasick automaton per list.

An automaton is built once per list version and kept in the process. Whether the lists changed is
one cache read (a stamp that every change replaces, so all processes sharing the cache see it at
once: the processes of a machine share the default file cache, every machine Redis at CACHE_URL);
a process whose cache is not shared with the one that made the change recomputes the stamp from the
database every STAMP_SECONDS. Only the lists whose version moved are rebuilt.

Terms made of letters of alphabetic scripts match whole words only ("ass" is not found in "class");
Chinese terms match anywhere, Chinese having no spaces between words.
"""

import threading
from dataclasses import dataclass

import ahocorasick
from django.core.cache import cache
from django.db.models import Count, Max, Sum

from policy.folding import fold, fold_with_origins, is_word_char
from policy.models import WordList

STAMP_KEY = "policy:stamp"
STAMP_SECONDS = 10


@dataclass(frozen=True)
class Hit:
    list_id: int
    list_name: str
    action: str  # a WordList.Action
    term: str  # as the list spells it
    start: int  # in the text scanned
    end: int


@dataclass(frozen=True)
class CompiledList:
    id: int
    version: tuple[int, str]  # the list's version and when it changed
    name: str
    action: str
    automaton: ahocorasick.Automaton
    longest: int  # characters of the longest folded term


def compile_list(
    *, list_id: int, version: tuple[int, str], name: str, action: str, terms: list[str]
) -> CompiledList:
    automaton = ahocorasick.Automaton()
    longest = 0
    for term in terms:
        folded = fold(term)
        if folded and folded not in automaton:
            automaton.add_word(folded, (len(folded), term))
            longest = max(longest, len(folded))
    automaton.make_automaton()
    return CompiledList(list_id, version, name, action, automaton, longest)


class Matcher:
    """The compiled word lists of one stamp."""

    def __init__(self, lists: list[CompiledList]) -> None:
        self.lists = [compiled for compiled in lists if compiled.longest]
        self.longest = max((compiled.longest for compiled in self.lists), default=0)

    def __bool__(self) -> bool:
        return bool(self.lists)

    def find(self, text: str, *, context_before: str = "", text_ends: bool = True) -> list[Hit]:
        """Every term in `text`, in its coordinates. `context_before` is what came just before it
        (for the whole-word check); when `text_ends` is false, more text follows, so a word term
        touching the end is not yet known to be whole and is left out."""
        if not self.lists or not text:
            return []
        lead = context_before[-1:]
        folded, origins = fold_with_origins(lead + text)
        hits = []
        for compiled in self.lists:
            for last, (length, term) in compiled.automaton.iter(folded):
                start, end = last - length + 1, last + 1
                if not _whole(folded, start, end, text_ends=text_ends):
                    continue
                first, after = (start, end) if origins is None else (origins[start], origins[last] + 1)
                if first < len(lead):
                    continue  # the term began in text already scanned
                hit = Hit(
                    compiled.id, compiled.name, compiled.action, term, first - len(lead), after - len(lead)
                )
                hits.append(hit)
        return hits


def _whole(folded: str, start: int, end: int, *, text_ends: bool) -> bool:
    """Whether a match is not part of a longer word: checked at each end that is a word character."""
    if is_word_char(folded[start]) and start > 0 and is_word_char(folded[start - 1]):
        return False
    if is_word_char(folded[end - 1]):
        if end == len(folded):
            return text_ends
        return not is_word_char(folded[end])
    return True


def mask(text: str, hits: list[Hit]) -> str:
    """`text` with the characters of every hit replaced by asterisks."""
    chars = list(text)
    for hit in hits:
        chars[hit.start : hit.end] = "*" * (hit.end - hit.start)
    return "".join(chars)


def database_stamp() -> str:
    """Changes whenever a list is added, changed or deleted: versions only grow, and a list added in
    place of a deleted one has a higher id and a later change time."""
    totals = WordList.objects.aggregate(
        count=Count("id"), versions=Sum("version"), newest=Max("id"), changed=Max("updated_at")
    )
    changed = totals["changed"].isoformat() if totals["changed"] else ""
    return f"{totals['count']}:{totals['versions'] or 0}:{totals['newest'] or 0}:{changed}"


def announce_change() -> None:
    """Called after every change to the lists: every process picks up the new stamp."""
    cache.set(STAMP_KEY, database_stamp(), STAMP_SECONDS)


class _Loaded:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: str | None = None
        self.matcher = Matcher([])
        self.compiled: dict[int, CompiledList] = {}


_loaded = _Loaded()


def current_matcher() -> Matcher:
    """The word lists as they are now (touches the cache, and the database when they changed)."""
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        stamp = database_stamp()
        cache.set(STAMP_KEY, stamp, STAMP_SECONDS)
    if stamp == _loaded.stamp:
        return _loaded.matcher
    with _loaded.lock:
        if stamp != _loaded.stamp:
            _reload(stamp)
        return _loaded.matcher


def _reload(stamp: str) -> None:
    versions = {
        i: (v, t.isoformat()) for i, v, t in WordList.objects.values_list("id", "version", "updated_at")
    }
    kept = {i: c for i, c in _loaded.compiled.items() if versions.get(i) == c.version}
    for row in WordList.objects.exclude(id__in=kept).values("id", "name", "action", "terms"):
        kept[row["id"]] = compile_list(
            list_id=row["id"],
            version=versions[row["id"]],
            name=row["name"],
            action=row["action"],
            terms=[line for line in row["terms"].splitlines() if line],
        )
    _loaded.compiled = kept
    _loaded.matcher = Matcher(sorted(kept.values(), key=lambda compiled: compiled.name))
    _loaded.stamp = stamp
