"""The log templates a runbook names, to link them in the graph
((:Template)-[:RELATED_RUNBOOK]->(:Runbook)) so an incident's templates find the runbook.

A runbook names a template in three ways:
- its front matter `templates:`: an id (linked as it is, even before the template is seen:
  ids are the same everywhere), or a text fragment (every template whose text holds it);
  these link the whole document;
- its text cites an id (`[template:42]`, `template 42`, `template #42`);
- its text quotes a log line or a template: an inline `code span`, a line of a code block
  (fenced or indented), or any line that is exactly a known template. The quote is
  canonicalized as a log line is (ingest/templates.py), so `Connection to 10.0.0.1:3306
  refused` and `Connection to <IP>:<NUM> refused` are one template; a known template with
  that id is linked, and every template whose text holds the quote's (FRAGMENT_MIN_CHARS,
  two words at least: `mariadb` alone would name half the fleet).
What the text names links the sections it is in. Ids go through the template merges (a
runbook quoting a canon template links the learned one that covers it). Reading only:
what links is written by db/graph.sync_runbook_documents.
"""
from __future__ import annotations

import re

from db import runbooks as runbook_sql
from db.pool import Database
from ingest.canon import PLACEHOLDER
from ingest.templates import template_for
from retrieval.runbook_docs import RunbookDoc

FRAGMENT_MIN_CHARS = 12        # letters and digits of a quote outside its placeholders
MAX_QUOTES = 40                # per document
PER_FRAGMENT = 20              # templates one fragment may link (the busiest)
PAGE = 20_000                  # templates per read
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


def holding(db: Database, fragments: list[str]) -> dict[str, list[int]]:
    """fragment -> the PER_FRAGMENT busiest templates whose text holds it (case-insensitive).
    One read of the templates in keyset pages; each is checked only against the fragments
    keyed by a word it has (a fragment's longest inner word), so the cost grows with the templates,
    not templates x fragments (a LIKE per fragment in MariaDB took 7 s at 50k templates)."""
    if not fragments:
        return {}
    keyed: dict[str, list[str]] = {}
    unkeyed: list[str] = []
    for fragment in fragments:
        words = _WORD.findall(fragment.lower())
        inner = words[1:-1] if len(words) > 2 else words        # an edge word may be cut off in the quote
        if inner:
            keyed.setdefault(max(inner, key=len), []).append(fragment.lower())
        else:
            unkeyed.append(fragment.lower())
    found: dict[str, list[tuple[int, int]]] = {}
    after = -1
    while True:
        page = runbook_sql.template_page(db, after, PAGE)
        for template_id, text, count in page:
            lowered = text.lower()
            for word in set(_WORD.findall(lowered)) & keyed.keys():
                for fragment in keyed[word]:
                    if fragment in lowered:
                        found.setdefault(fragment, []).append((-count, template_id))
            for fragment in unkeyed:
                if fragment in lowered:
                    found.setdefault(fragment, []).append((-count, template_id))
        if len(page) < PAGE:
            break
        after = page[-1][0]
    by_lower = {f.lower(): f for f in fragments}
    return {by_lower[f]: [i for _, i in sorted(hits)[:PER_FRAGMENT]] for f, hits in found.items()}


def _add(links: dict, runbook: str, template: int, section: str | None, reason: str) -> None:
    """section None: the whole document."""
    link = links.setdefault((runbook, template), {"runbook": runbook, "template": template, "sections": set(),
                                                  "whole": False, "reason": reason})
    if section is None:
        link["whole"] = True
    else:
        link["sections"].add(section)


def template_links(db: Database, docs: list[RunbookDoc]) -> list[dict]:
    """{runbook, template, sections (sorted; [] = the whole document), reason} per (runbook,
    template) the documents name; the first reason found (front matter first) is kept."""
    named: list[tuple[str, int, str | None, str]] = []          # (runbook, id, section, reason): ids as written
    exact: list[tuple[str, int, str, str]] = []                 # a line that is a template if that id is known
    fragments: dict[str, list[tuple[str, str | None, str]]] = {}
    for doc in docs:
        for name in doc.templates:
            if isinstance(name, int):
                named.append((doc.id, name, None, f"front matter template {name}"))
            else:
                fragments.setdefault(name, []).append((doc.id, None, f'front matter "{name}"'))
        budget = MAX_QUOTES
        for section in doc.sections:
            text = f"{section.heading}\n{section.body}"
            for m in _ID.finditer(text):
                named.append((doc.id, int(m.group(1) or m.group(2)), section.section,
                              f"template {m.group(1) or m.group(2)} in section {section.section}"))
            quoted, lines = quotes(section.body)
            for line in lines:
                exact.append((doc.id, template_for(line).id, section.section, f'quotes "{line[:80]}"'))
            for quote in quoted:
                exact.append((doc.id, template_for(quote).id, section.section, f'quotes "{quote[:80]}"'))
                typed = _fragment(quote) if budget > 0 else None
                if typed is not None:
                    budget -= 1
                    fragments.setdefault(typed, []).append((doc.id, section.section, f'quotes "{quote[:80]}"'))
    ids = sorted({i for _, i, _, _ in named} | {i for _, i, _, _ in exact})
    target = runbook_sql.merged_targets(db, ids)
    known = runbook_sql.present_templates(db, sorted({target.get(i, i) for _, i, _, _ in exact}))
    links: dict = {}
    for runbook, template_id, section, reason in named:
        _add(links, runbook, target.get(template_id, template_id), section, reason)
    for runbook, template_id, section, reason in exact:
        if target.get(template_id, template_id) in known:
            _add(links, runbook, target.get(template_id, template_id), section, reason)
    for fragment, hits in holding(db, sorted(fragments)).items():
        for runbook, section, reason in fragments[fragment]:
            for template_id in hits:
                _add(links, runbook, template_id, section, reason)
    return [{"runbook": link["runbook"], "template": link["template"],
             "sections": [] if link["whole"] else sorted(link["sections"]), "reason": link["reason"]}
            for _, link in sorted(links.items())]
