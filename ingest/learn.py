"""Learned templates: variables found across lines, on top of the typed masks of canon.py.

canon.py masks what any log format spells the same way (numbers, addresses, paths, ids). A
word that varies without a digit in it (a program name, a user, a state) stays constant
there, so one statement of a program we have never seen can split into many templates.
This layer finds those positions from the data, as Drain and Brain do, but over the *set*
of canon templates seen (never the order they came in):

- templates of the same token count that are equal everywhere but one position, where
  `MIN_VALUES` or more distinct tokens occur, make that position a variable (`<*>`);
- where only two tokens occur there and one is a pattern covering the other (`(<*>)`
  covers `()`, `<*>` covers `environment:java.vendor=Oracle`), the covering one stays;
- a template covered position by position by a learned one joins it (that is also how a
  new line is matched at ingest, before the next learning run);
- a learned template keeps at least one constant token.

Each rule only generalizes, and the set only grows, so learning is monotone: what an early
run merged, a later run on more templates merges too. Two processes that saw the same
lines in different orders end with the same groups once both have learned over the same
set; the database arbitrates the ids (db/merges.py).

Pure functions, no I/O; `learn` is deterministic (sorted iteration).
"""
from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Iterable

STAR = "<*>"
MIN_VALUES = 3            # distinct tokens at one position that make it a variable (leave-one-out: bench parse)
MIN_CONSTANTS = 1         # a learned template keeps at least this many constant tokens


def _compile(token: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in token.split(STAR)) + r"\Z", re.S)


_compile_cached = lru_cache(maxsize=16384)(_compile)


def _token_pattern(token: str) -> re.Pattern:
    return _compile_cached(token) if len(token) <= 256 else _compile(token)


def token_covers(general: str, specific: str) -> bool:
    """`general` holds a variable and `specific` is one of its values (or equal)."""
    if general == specific:
        return True
    return STAR in general and _token_pattern(general).match(specific) is not None


def covers(general: list[str], specific: list[str]) -> bool:
    """Token by token: every position equal or covered (same token count)."""
    return len(general) == len(specific) and all(token_covers(g, s) for g, s in zip(general, specific))


def constants(tokens: Iterable[str]) -> int:
    return sum(1 for t in tokens if STAR not in t)


def learn(templates: Iterable[str], min_values: int = MIN_VALUES, subsume: bool = True,
          cache: dict | None = None) -> dict[str, str]:
    """generic canon template -> learned template, for those that change (the rest map to
    themselves). Input templates are in generic form (`<*>` placeholders, single spaces).
    Token counts are learned apart; `cache` (a dict the caller keeps between runs) skips a
    token count whose templates did not change since the last run."""
    by_length: dict[int, list[list[str]]] = defaultdict(list)
    for text in sorted(set(templates)):
        tokens = text.split(" ")
        by_length[len(tokens)].append(tokens)
    out: dict[str, str] = {}
    for length, members in sorted(by_length.items()):
        key = (length, min_values, subsume)
        stamp = frozenset(" ".join(t) for t in members)
        if cache is not None and key in cache and cache[key][0] == stamp:
            out.update(cache[key][1])
            continue
        changed = {" ".join(tokens): " ".join(learned)
                   for tokens, learned in zip(members, _learn_group(members, length, min_values, subsume))
                   if learned != tokens}
        if cache is not None:
            cache[key] = (stamp, changed)
        out.update(changed)
    return out


def _learn_group(members: list[list[str]], length: int, min_values: int, subsume: bool) -> list[list[str]]:
    """Templates of one token count -> each one's learned tokens. Groups are the closure of
    "in one bucket that shows a variable": each round looks at every position against the
    groups as they stood at the round's start, so the result is one fixed point whatever
    the order (and grows with the set)."""
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tokens_of = {i: list(t) for i, t in enumerate(members)}          # group root -> its tokens
    sizes = {i: 1 for i in tokens_of}
    while True:
        roots = sorted(tokens_of)
        unions: list[tuple[int, int]] = []
        for position in range(length):
            buckets: dict[tuple, list[int]] = defaultdict(list)
            for root in roots:
                tokens = tokens_of[root]
                buckets[(*tokens[:position], *tokens[position + 1:])].append(root)
            for key, group in buckets.items():
                if len(group) < 2 or constants(key) < MIN_CONSTANTS:
                    continue
                values = {tokens_of[r][position] for r in group}
                if len(values) >= min_values or (subsume and len(values) == 2 and _top(values) is not None):
                    unions += [(group[0], other) for other in group[1:]]
        unions += _covered(tokens_of, sizes)
        if not unions:
            break
        for a, b in unions:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        grouped: dict[int, list[int]] = defaultdict(list)
        for i in range(len(members)):
            grouped[find(i)].append(i)
        tokens_of = {root: _generalize([members[i] for i in idx], min_values, subsume)
                     for root, idx in grouped.items()}
        sizes = {root: len(idx) for root, idx in grouped.items()}
    return [tokens_of[find(i)] for i in range(len(members))]


def _top(values: set[str]) -> str | None:
    """Of two tokens, the one that covers the other (the variable), if one does."""
    for v in sorted(values):
        if all(token_covers(v, w) for w in values):
            return v
    return None


def _generalize(group: list[list[str]], min_values: int, subsume: bool) -> list[str]:
    """Column by column: the shared token, the covering one of two, or a variable."""
    out = []
    for column in zip(*group):
        values = set(column)
        if len(values) == 1:
            out.append(column[0])
        else:
            top = _top(values) if subsume and len(values) < min_values else None
            out.append(top if top is not None else STAR)
    return out


def _covered(tokens_of: dict[int, list[str]], sizes: dict[int, int]) -> list[tuple[int, int]]:
    """A group covered position by position by a learned group (one of two or more
    templates) joins it."""
    learned = sorted((r for r, t in tokens_of.items() if sizes[r] > 1 and constants(t) >= MIN_CONSTANTS),
                     key=lambda r: (-" ".join(tokens_of[r]).count(STAR), " ".join(tokens_of[r])))
    out = []
    for root, tokens in tokens_of.items():
        for other in learned:
            if other != root and tokens_of[other] != tokens and covers(tokens_of[other], tokens):
                out.append((other, root))
                break
    return out


def learned_groups(typed: dict[str, list[str]], cache: dict | None = None) -> dict[str, tuple[list[str], str]]:
    """generic canon template -> its typed forms, learned: each learned template (generic
    text) -> (the generic canon templates it covers, its display text). Used by the server's
    learner and by `devmesh parse` alike."""
    members: dict[str, list[str]] = defaultdict(list)
    for g, target in learn(typed, cache=cache).items():
        members[target].append(g)
    return {target: (gs, display_text(target, [t for g in gs for t in typed[g]]))
            for target, gs in sorted(members.items())}


class LearnedIndex:
    """Learned templates by token count, to match a new canon template at ingest the way
    the next learning run would (the most general covering pattern first)."""

    def __init__(self, learned: Iterable[tuple[int, str]] = ()):
        self._by_length: dict[int, list[tuple[list[str], int]]] = defaultdict(list)
        for template_id, text in learned:
            self.add(template_id, text)

    def add(self, template_id: int, text: str) -> None:
        tokens = text.split(" ")
        if constants(tokens) < MIN_CONSTANTS:
            return
        group = self._by_length[len(tokens)]
        group.append((tokens, template_id))
        group.sort(key=lambda item: (-" ".join(item[0]).count(STAR), " ".join(item[0])))

    def match(self, generic_text: str) -> int | None:
        tokens = generic_text.split(" ")
        for pattern, template_id in self._by_length.get(len(tokens), ()):
            if covers(pattern, tokens):
                return template_id
        return None

    def __len__(self) -> int:
        return sum(len(g) for g in self._by_length.values())


def display_text(target: str, typed_members: list[str]) -> str:
    """The learned template with the members' typed placeholders where they all agree."""
    tokens = target.split(" ")
    split = [t.split(" ") for t in typed_members]
    out = []
    for i, token in enumerate(tokens):
        seen = {m[i] for m in split if len(m) == len(tokens)}
        only = next(iter(seen)) if len(seen) == 1 else None
        out.append(only if only is not None and _generic(only) == token else token)
    return " ".join(out)


_PLACEHOLDER = re.compile(r"<(?:[A-Z]+|\*)>")


def _generic(token: str) -> str:
    return _PLACEHOLDER.sub(STAR, token)
