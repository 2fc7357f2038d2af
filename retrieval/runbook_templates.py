"""The log templates a runbook names, to link them in the graph
((:Template)-[:RELATED_RUNBOOK]->(:Runbook)) so an incident's templates find the runbook.

A runbook names a template in three ways:
- its front matter `templates:`: an id (linked as it is, even before the template is seen:
  ids are the same everywhere), or a text fragment (every template whose text holds it);
  these link the whole document;
- its text cites an id: `[template:42]` (linked as it is), `template 42`, `template #42` (in
  prose: linked once a template has that id);
- its text quotes a log line or a template: an inline `code span`, a line of a code block
  (fenced or indented), or any line that is exactly a known template. The quote is
  canonicalized as a log line is (ingest/templates.py), so `Connection to 10.0.0.1:3306
  refused` and `Connection to <IP>:<NUM> refused` are one template; a known template with
  that id is linked, and every template whose text holds the quote's (FRAGMENT_MIN_CHARS,
  two words at least: `mariadb` alone would name half the fleet).
What the text names links the sections it is in. Ids go through the template merges (a
runbook quoting a canon template links the learned one that covers it). The ingest makes
the links equal to these (db/graph_runbooks.sync_runbook_documents); between ingests the server's
TemplateFollower adds the links of each template first stored since (the ingest's new-template
hook, run every FOLLOW_INTERVAL_S), so a runbook ingested before its log lines were ever
seen is found by their first incident.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from db import graph_runbooks
from db import runbooks as runbook_sql
from db import templates as template_sql
from db.graph import Graph
from db.pool import Database
from ingest.canon import PLACEHOLDER
from ingest.templates import template_for
from retrieval.runbook_docs import RunbookDoc, Section

FRAGMENT_MIN_CHARS = 12        # letters and digits of a quote outside its placeholders
MAX_QUOTES = 40                # per document
PER_FRAGMENT = 20              # templates one fragment may link (the busiest)
PAGE = 20_000                  # templates per read
FOLLOW_INTERVAL_S = 10.0       # the follower's period
FOLLOW_MAX_PENDING = 100_000   # new template ids waiting at most (beyond: the next ingest links them)
MAX_LINE = 300

_CODE_SPAN = re.compile(r"`([^`\n]{3,300})`")
_FENCE = re.compile(r"^\s*(```|~~~)")
_ID = re.compile(r"\[template:(\d{1,16})\]|\btemplate(?:\s+id)?\s*#?\s*(\d{1,16})\b", re.I)
_WORD = re.compile(r"[a-z0-9]{3,}")
_MARKERS = re.compile(r"^\s*(?:[-*+>]|\d+[.)])\s+")


def quotes(body: str) -> tuple[list[str], list[str]]:
    """(quoted text: code spans and code-block lines, every other line) of a section's body."""
    quoted: list[str] = []
    lines: list[str] = []
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or line.startswith(("    ", "\t")):
            quoted.append(line.split("  #")[0].strip())         # a command's trailing comment is not the line
            continue
        quoted.extend(m.group(1).strip() for m in _CODE_SPAN.finditer(line))
        lines.append(_MARKERS.sub("", line).strip().strip("`").strip())
    keep = lambda xs: [x[:MAX_LINE] for x in xs if x]            # noqa: E731
    return keep(quoted), keep(lines)


def _fragment(text: str) -> str | None:
    """The quote's template text when it is long enough to name templates by substring."""
    typed = template_for(text).template
    literal = PLACEHOLDER.sub(" ", typed)
    if len(re.sub(r"[^A-Za-z0-9]", "", literal)) < FRAGMENT_MIN_CHARS or len(literal.split()) < 2:
        return None
    return typed


class FragmentMatcher:
    """Which fragments a template's text holds (case-insensitive). A template is checked only
    against the fragments keyed by a word it has (a fragment's longest inner word), so the
    cost grows with the templates, not templates x fragments (a LIKE per fragment in MariaDB
    took 7 s at 50k templates)."""

    def __init__(self, fragments: list[str]):
        self.keyed: dict[str, list[str]] = {}
        self.unkeyed: list[str] = []
        self.original = {f.lower(): f for f in fragments}
        for lowered in self.original:
            words = _WORD.findall(lowered)
            inner = words[1:-1] if len(words) > 2 else words        # an edge word may be cut off in the quote
            if inner:
                self.keyed.setdefault(max(inner, key=len), []).append(lowered)
            else:
                self.unkeyed.append(lowered)

    def held(self, text: str) -> list[str]:
        lowered = text.lower()
        out = [f for word in set(_WORD.findall(lowered)) & self.keyed.keys() for f in self.keyed[word] if f in lowered]
        out += [f for f in self.unkeyed if f in lowered]
        return [self.original[f] for f in out]


def holding(db: Database, fragments: list[str]) -> dict[str, list[int]]:
    """fragment -> the PER_FRAGMENT busiest templates whose text holds it, over one read of
    the templates in keyset pages."""
    if not fragments:
        return {}
    matcher = FragmentMatcher(fragments)
    found: dict[str, list[tuple[int, int]]] = {}
    after = -1
    while True:
        page = runbook_sql.template_page(db, after, PAGE)
        for template_id, text, count in page:
            for fragment in matcher.held(text):
                found.setdefault(fragment, []).append((-count, template_id))
        if len(page) < PAGE:
            break
        after = page[-1][0]
    return {f: [i for _, i in sorted(hits)[:PER_FRAGMENT]] for f, hits in found.items()}


def _add(links: dict, runbook: str, template: int, section: str | None, reason: str) -> None:
    """section None: the whole document."""
    link = links.setdefault((runbook, template), {"runbook": runbook, "template": template, "sections": set(),
                                                  "whole": False, "reason": reason})
    if section is None:
        link["whole"] = True
    else:
        link["sections"].add(section)


@dataclass
class Named:
    """What a set of documents names: ids as written (named), lines that are a template if
    that id is known (exact), and text fragments (fragment -> where)."""
    named: list[tuple[str, int, str | None, str]] = field(default_factory=list)
    exact: list[tuple[str, int, str, str]] = field(default_factory=list)
    fragments: dict[str, list[tuple[str, str | None, str]]] = field(default_factory=dict)


def collect(docs: list[RunbookDoc]) -> Named:
    out = Named()
    for doc in docs:
        for name in doc.templates:
            if isinstance(name, int):
                out.named.append((doc.id, name, None, f"front matter template {name}"))
            else:
                out.fragments.setdefault(name, []).append((doc.id, None, f'front matter "{name}"'))
        budget = MAX_QUOTES
        for section in doc.sections:
            text = f"{section.heading}\n{section.body}"
            for m in _ID.finditer(text):     # a citation links as written; "template 2" in prose if such a template is known
                (out.named if m.group(1) else out.exact).append(
                    (doc.id, int(m.group(1) or m.group(2)), section.section,
                     f"template {m.group(1) or m.group(2)} in section {section.section}"))
            quoted, lines = quotes(section.body)
            for line in lines:
                out.exact.append((doc.id, template_for(line).id, section.section, f'quotes "{line[:80]}"'))
            for quote in quoted:
                out.exact.append((doc.id, template_for(quote).id, section.section, f'quotes "{quote[:80]}"'))
                typed = _fragment(quote) if budget > 0 else None
                if typed is not None:
                    budget -= 1
                    out.fragments.setdefault(typed, []).append((doc.id, section.section, f'quotes "{quote[:80]}"'))
    return out


def _listed(links: dict) -> list[dict]:
    return [{"runbook": link["runbook"], "template": link["template"],
             "sections": [] if link["whole"] else sorted(link["sections"]), "reason": link["reason"]}
            for _, link in sorted(links.items())]


def template_links(db: Database, docs: list[RunbookDoc]) -> list[dict]:
    """{runbook, template, sections (sorted; [] = the whole document), reason} per (runbook,
    template) the documents name; the first reason found (front matter first) is kept."""
    found = collect(docs)
    ids = sorted({i for _, i, _, _ in found.named} | {i for _, i, _, _ in found.exact})
    target = runbook_sql.merged_targets(db, ids)
    known = runbook_sql.present_templates(db, sorted({target.get(i, i) for _, i, _, _ in found.exact}))
    links: dict = {}
    for runbook, template_id, section, reason in found.named:
        _add(links, runbook, target.get(template_id, template_id), section, reason)
    for runbook, template_id, section, reason in found.exact:
        if target.get(template_id, template_id) in known:
            _add(links, runbook, target.get(template_id, template_id), section, reason)
    for fragment, hits in holding(db, sorted(found.fragments)).items():
        for runbook, section, reason in found.fragments[fragment]:
            for template_id in hits:
                _add(links, runbook, template_id, section, reason)
    return _listed(links)


def links_to(db: Database, docs: list[RunbookDoc], templates: list[tuple[int, str]]) -> list[dict]:
    """The links of `docs` to these templates alone (new ones: what the follower adds), by
    quoted line (its id, or the learned template it is merged into) or fragment."""
    if not templates or not docs:
        return []
    found = collect(docs)
    new = {template_id for template_id, _ in templates}
    target = runbook_sql.merged_targets(db, sorted({i for _, i, _, _ in found.exact}))
    links: dict = {}
    for runbook, template_id, section, reason in found.exact:
        if target.get(template_id, template_id) in new:
            _add(links, runbook, target.get(template_id, template_id), section, reason)
    matcher = FragmentMatcher(sorted(found.fragments))
    for template_id, text in templates:
        for fragment in matcher.held(text):
            for runbook, section, reason in found.fragments[fragment]:
                _add(links, runbook, template_id, section, reason)
    return _listed(links)


def stored_docs(db: Database) -> list[RunbookDoc]:
    """The live runbook documents as the ingest parsed them (from MariaDB)."""
    out = []
    for d in runbook_sql.live_documents(db):
        meta = d["meta"]
        out.append(RunbookDoc(d["id"], d["title"], d["path"], d["format"], d["content_hash"],
                              meta.get("services", []), meta.get("templates", []), meta.get("detectors", []),
                              [Section(s["section"], s["position"], s["heading"], s["body"], 0) for s in d["sections"]]))
    return out


class TemplateFollower:
    """Links the templates stored since the last runbook ingest to the runbooks that quote
    them: `enqueue` is the ingest's new-template hook, `run` (periodic) links what waits.
    A failed run puts its ids back; more than FOLLOW_MAX_PENDING waiting are dropped (the
    next ingest links them)."""

    def __init__(self, db: Database, graph: Graph):
        self.db, self.graph = db, graph
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._running = threading.Lock()
        self.linked = 0
        self.dropped = 0

    def enqueue(self, template_ids: list[int]) -> None:
        with self._lock:
            room = FOLLOW_MAX_PENDING - len(self._pending)
            fresh = [i for i in template_ids if i not in self._pending]
            self._pending.update(fresh[:max(0, room)])
            self.dropped += max(0, len(fresh) - max(0, room))

    def run(self) -> int:
        with self._running:                    # one run at a time: a caller's run waits for the periodic one
            return self._run()

    def _run(self) -> int:
        with self._lock:
            ids, self._pending = sorted(self._pending), set()
        if not ids:
            return 0
        try:
            docs = stored_docs(self.db)
            texts = [(i, t["template"]) for start in range(0, len(ids) if docs else 0, 1000)
                     for i, t in template_sql.get_many(self.db, ids[start:start + 1000]).items()]
            links = links_to(self.db, docs, texts)
            if links:
                graph_runbooks.add_runbook_template_links(self.graph, links)
        except Exception:
            self.enqueue(ids)                  # the next run tries again
            raise
        self.linked += len(links)
        return len(links)
