"""Runbook files -> documents chunked by heading (pure: no I/O but reading the files).

Markdown (`.md`), reStructuredText (`.rst`) and plain text (`.txt`). A file may open with
YAML front matter between `---` lines:

    ---
    id: disk-full                 # default: the file name without its extension
    title: Disk full on a database host     # default: the first heading
    services: [mariadb]           # linked in the graph (beside the services the text names)
    templates: ["No space left on device", 42]   # template text fragments or template ids
    detectors: [catastrophic]     # the detectors whose incidents it is for
    ---

A heading starts a section: Markdown `#`..`######` outside code fences; reStructuredText
and plain text a title line underlined (optionally overlined) with one repeated punctuation
character. A section's id is its heading's slug, unique in the file: `[runbook:ID#SLUG]`.
A file whose front matter cannot be read is rejected alone, with the line and the fix.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FORMATS = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text", ".text": "text"}
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_KEYS = {"id", "title", "services", "templates", "detectors"}
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}\s*$")
MAX_FILE_BYTES = 1024 * 1024
MAX_SECTION_CHARS = 20_000


class RunbookError(ValueError):
    """One file that cannot be ingested; the others still are."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass
class Section:
    section: str
    position: int
    heading: str
    body: str
    level: int

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.heading}\n{self.body}".encode()).hexdigest()

    def row(self) -> dict:
        return {"section": self.section, "position": self.position, "heading": self.heading, "body": self.body,
                "content_hash": self.content_hash}


@dataclass
class RunbookDoc:
    id: str
    title: str
    path: str
    format: str
    content_hash: str
    services: list[str] = field(default_factory=list)
    templates: list[int | str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    @property
    def meta(self) -> dict:
        return {"services": self.services, "templates": self.templates, "detectors": self.detectors}

    def row(self) -> dict:
        return {"id": self.id, "title": self.title, "path": self.path, "format": self.format,
                "content_hash": self.content_hash, "meta": self.meta}

    @property
    def text(self) -> str:
        return "\n".join(f"{s.heading}\n{s.body}" for s in self.sections)


def slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:100].rstrip("-") or "section"


def _front_matter(path: str, text: str) -> tuple[dict, str, int]:
    """(front matter, the rest, how many lines the front matter took)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise RunbookError(path, "front matter opened with `---` on line 1 is never closed; "
                                 "end it with a line `---`")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 2}" if mark is not None else ""
        raise RunbookError(path, f"front matter{where} is not valid YAML ({getattr(exc, 'problem', None) or exc}); "
                                 "write `key: value` lines, lists as [a, b]") from None
    if not isinstance(meta, dict):
        raise RunbookError(path, "front matter must be a mapping of keys (id, title, services, templates, detectors)")
    unknown = sorted(str(k) for k in set(meta) - _KEYS)
    if unknown:
        raise RunbookError(path, f"front matter key(s) {', '.join(unknown)} unknown; "
                                 f"use {', '.join(sorted(_KEYS))}")
    return meta, "\n".join(lines[end + 1:]), end + 1


def _names(path: str, meta: dict, key: str, kinds: tuple[type, ...]) -> list:
    value = meta.get(key, [])
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, kinds) and not isinstance(v, bool) and str(v).strip()
                                              for v in value):
        what = "names" if kinds == (str,) else "template text fragments or template ids"
        raise RunbookError(path, f"front matter `{key}` must be a list of {what}, e.g. {key}: [a, b]")
    return [v.strip() if isinstance(v, str) else v for v in value]


def _markdown(body: str) -> list[tuple[int, str, list[str]]]:
    """(level, heading, lines) per heading; level 0 for text before the first heading."""
    parts: list[tuple[int, str, list[str]]] = [(0, "", [])]
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _MD_HEADING.match(line)
        if m:
            parts.append((len(m.group(1)), m.group(2).strip(), []))
        else:
            parts[-1][2].append(line)
    return parts


def _underlined(body: str) -> list[tuple[int, str, list[str]]]:
    """reStructuredText / plain-text titles: a line underlined with one punctuation character,
    at least as long; levels in the order the characters first appear (as docutils does)."""
    lines = body.split("\n")
    parts: list[tuple[int, str, list[str]]] = [(0, "", [])]
    styles: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        m = _UNDERLINE.match(nxt)
        if line.strip() and not _UNDERLINE.match(line) and m and len(nxt.rstrip()) >= len(line.strip()):
            over = bool(parts[-1][2]) and _UNDERLINE.match(parts[-1][2][-1] or "") is not None
            style = ("over" if over else "") + m.group(1)
            if over:
                parts[-1][2].pop()
            if style not in styles:
                styles.append(style)
            parts.append((styles.index(style) + 1, line.strip(), []))
            i += 2
            continue
        parts[-1][2].append(line)
        i += 1
    return parts


def parse(path: str, raw: bytes) -> RunbookDoc:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise RunbookError(path, f"unknown runbook format {suffix or '(none)'}; use {', '.join(sorted(FORMATS))}")
    if len(raw) > MAX_FILE_BYTES:
        raise RunbookError(path, f"{len(raw)} bytes is over the {MAX_FILE_BYTES} byte limit; split the runbook")
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise RunbookError(path, f"not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    text = text.replace("\x00", "")
    meta, body, _ = _front_matter(path, text)
    fmt = FORMATS[suffix]
    runbook_id = meta.get("id", Path(path).stem)
    if not isinstance(runbook_id, str) or not ID.match(runbook_id):
        raise RunbookError(path, f"runbook id {runbook_id!r} must be letters, digits, `-`, `_` or `.` "
                                 "(it is cited as [runbook:ID#section]); set `id:` in the front matter")
    title = meta.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise RunbookError(path, "front matter `title` must be a line of text")
    services = _names(path, meta, "services", (str,))
    templates = _names(path, meta, "templates", (str, int))
    detectors = _names(path, meta, "detectors", (str,))
    parts = _markdown(body) if fmt == "markdown" else _underlined(body)
    headed = [p for p in parts if p[0] > 0]
    title = (title or (headed[0][1] if headed else runbook_id)).strip()[:512]
    sections: list[Section] = []
    seen: set[str] = set()
    for level, heading, lines in parts:
        start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
        text_part = "\n".join(lines[start:]).rstrip()     # a first line's indent marks a literal block
        if level == 0 and not text_part:
            continue
        heading = heading or title
        name = base = slug(heading)
        n = 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        sections.append(Section(name, len(sections), heading[:512], text_part[:MAX_SECTION_CHARS], level))
    return RunbookDoc(runbook_id, title, path, fmt, hashlib.sha256(raw).hexdigest(), services, templates, detectors,
                      sections)


def read_dir(directory: Path) -> tuple[list[RunbookDoc], list[RunbookError]]:
    """Every runbook file under `directory` (recursively, in path order); a bad file is one
    error, and a second file claiming an id already taken is another."""
    if not directory.is_dir():
        raise FileNotFoundError(f"runbook directory {directory} does not exist")
    docs: list[RunbookDoc] = []
    errors: list[RunbookError] = []
    taken: dict[str, str] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS):
        name = str(Path(directory.name) / path.relative_to(directory))
        try:
            doc = parse(name, path.read_bytes())
        except RunbookError as exc:
            errors.append(exc)
            continue
        if doc.id in taken:
            errors.append(RunbookError(name, f"runbook id {doc.id!r} is already {taken[doc.id]}'s; "
                                             "give one of them another `id:` in its front matter"))
            continue
        taken[doc.id] = name
        docs.append(doc)
    return docs, errors


def steps(doc_sections: list[dict], limit: int = 8) -> list[dict]:
    """What to do, from a runbook: its numbered headings ("1. Find the full filesystem"), else
    its sub-headings, else the numbered or bulleted items of its only section."""
    later = [s for s in doc_sections if s["position"] > 0] or doc_sections
    numbered = [s for s in later if re.match(r"^\s*(step\s*)?\d+[.):]\s*", s["heading"], re.I)]
    chosen = numbered or (later if len(doc_sections) > 1 else [])
    if chosen:
        return [{"text": s["heading"], "section": s["section"]} for s in chosen[:limit]]
    items = []
    for s in doc_sections[:1]:
        for line in s["body"].split("\n"):
            m = re.match(r"^\s*(?:\d+[.)]|[-*+])\s+(.+)$", line)
            if m:
                items.append({"text": m.group(1).strip()[:300], "section": s["section"]})
    return items[:limit]
