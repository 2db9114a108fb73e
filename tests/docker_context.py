"""Which files of the repository `docker build` would put in the image, worked out from the Dockerfile's
COPY instructions and .dockerignore, without Docker.

.dockerignore is read as Docker reads it (moby/patternmatcher, which BuildKit uses): a line starting
with `#` is a comment; each pattern is trimmed and cleaned like Go's filepath.Clean, a leading `/`
dropped; `!` makes an exception; the last pattern that matches a path, or one of its parent folders,
decides. `*` and `?` never match `/`, `**` matches any number of folders (none too), `[...]` is a
class (`[^...]` negated) and `\\` escapes. COPY copies a folder's contents, not the folder itself.
"""

import json
import posixpath
import re
import shlex
from dataclasses import dataclass

_REGEX_SPECIALS = set(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash-separated path."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore file, as Docker's ignorefile.ReadAll returns them."""
    patterns = []
    for line in text.removeprefix("\ufeff").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        pattern = line.strip()
        exception = pattern.startswith("!")
        if exception:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append(f"!{pattern}" if exception else pattern)
    return patterns


def _translate(pattern: str, *, globstar: bool) -> tuple[str, str]:
    """A pattern's regular expression, and how patternmatcher matches it: "exact" (no wildcard),
    "prefix" (only a trailing `**`), "suffix" (a leading `**`, then no wildcard: the path ends with
    the rest) or "regex". Without `globstar` (COPY's sources: Go's filepath.Match) `**` is `*`."""
    out, kind, i = "", "exact", 0
    while i < len(pattern):
        char = pattern[i]
        if globstar and pattern.startswith("**", i):
            first = i == 0
            i += 2
            if pattern.startswith("/", i):
                i += 1  # "**/" is "**"
            at_end = i == len(pattern)
            if at_end and kind == "exact":
                kind = "prefix"
            else:
                out, kind = out + (".*" if at_end else "(.*/)?"), "regex"
            kind = "suffix" if first else kind
            continue
        if char in "*?":
            out, kind = out + ("[^/]*" if char == "*" else "[^/]"), "regex"
        elif char in _REGEX_SPECIALS:
            out += "\\" + char
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out, kind = out + "\\" + pattern[i], "regex"
        elif char == "\\":
            out += "\\\\"
        elif char in "[]":
            out, kind = out + char, "regex"  # a class; "^" negates it, as in Go
        else:
            out += char
        i += 1
    return out, kind


class Pattern:
    """One pattern, matched as patternmatcher's Pattern.match does."""

    def __init__(self, text: str, *, globstar: bool = True) -> None:
        self.exception = text.startswith("!")
        self.text = text[1:] if self.exception else text
        if self.exception and not self.text:
            raise ValueError('illegal exclusion pattern: "!"')
        expression, self.kind = _translate(self.text, globstar=globstar)
        try:
            self.regex = re.compile(expression)
        except re.error as error:
            raise ValueError(f"bad pattern {text!r}: {error}") from None

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.regex.fullmatch(path) is not None


class DockerIgnore:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [Pattern(go_clean(raw.strip())) for raw in patterns if raw.strip()]

    def excludes(self, path: str) -> bool:
        """Whether `path` (relative, slash-separated) stays out of the build context."""
        path = go_clean(path)
        parents = path.split("/")[:-1]
        candidates = [path] + ["/".join(parents[: n + 1]) for n in range(len(parents))]
        excluded = False
        for pattern in self.patterns:
            # Only an exception lets an excluded path back in, only a pattern leaves one out.
            if pattern.exception == excluded and any(pattern.matches(c) for c in candidates):
                excluded = not pattern.exception
        return excluded


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: str  # absolute, in the image


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comment lines dropped (also those
    inside a continued instruction, as Docker does)."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\[ \t]*\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        keyword, _, arguments = line.strip().partition(" ")
        if keyword:
            found.append((keyword.upper(), arguments.strip()))
    return found


def copies(dockerfile: str) -> tuple[list[Copy], str]:
    """The COPY and ADD instructions from the build context, and the WORKDIR the container runs in."""
    workdir, found = "/", []
    for keyword, arguments in _instructions(dockerfile):
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, arguments)
        elif keyword in ("COPY", "ADD"):
            flags = re.match(r"(--\S+\s+)*", arguments)
            rest = arguments[flags.end() :] if flags else arguments
            if flags and "--from=" in flags.group(0):
                continue  # from another stage or image, not from the context
            *sources, destination = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            found.append(Copy(tuple(sources), posixpath.join(workdir, destination)))
    return found, workdir


def image_paths(copy: Copy, path: str) -> list[str]:
    """Where one COPY puts the context file `path` (relative), if it copies it at all."""
    parts = path.split("/")
    placed = []
    for written in copy.sources:
        source = go_clean(written).lstrip("/") or "."
        depth = 0 if source == "." else len(source.split("/"))
        entry, inside = "/".join(parts[:depth]), "/".join(parts[depth:])
        pattern = Pattern(source, globstar=False)
        if source != "." and (depth > len(parts) or not pattern.matches(entry)):
            continue
        into_folder = copy.destination.endswith("/") or len(copy.sources) > 1 or pattern.kind != "exact"
        if inside:
            placed.append(posixpath.join(copy.destination, inside))  # a folder's contents
        elif into_folder:
            placed.append(posixpath.join(copy.destination, parts[-1]))
        else:
            placed.append(copy.destination)
    return [posixpath.normpath(place) for place in placed]


def missing_from_image(dockerfile: str, dockerignore: str, needed: list[str]) -> list[str]:
    """The files of `needed` (relative to the build context) that the container, running in its
    WORKDIR, would not find at the same relative path."""
    ignore = DockerIgnore(read_dockerignore(dockerignore))
    found, workdir = copies(dockerfile)
    return [
        path
        for path in needed
        if ignore.excludes(path)
        or not any(posixpath.join(workdir, path) in image_paths(copy, path) for copy in found)
    ]
