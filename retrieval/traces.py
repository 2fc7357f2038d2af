"""What trace ids say: who calls whom (a callee's events nest inside its caller's), and
where errors first appear in a trace. Works without any inventory."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

Span = tuple[str, str, datetime, datetime, int, datetime | None]   # trace, service, first, last, errors, first error


def _by_trace(rows: list[Span]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = defaultdict(list)
    for row in rows:
        out[row[0]].append(row)
    return out


def call_edges(rows: list[Span]) -> Counter[tuple[str, str]]:
    """(caller, callee) -> traces showing it. A service's caller is the service whose span in
    the same trace most tightly contains its own (starts no later, ends no earlier)."""
    edges: Counter[tuple[str, str]] = Counter()
    for spans in _by_trace(rows).values():
        for _t, service, first, last, _e, _fe in spans:
            parents = [(p_last - p_first, p_service) for _t2, p_service, p_first, p_last, _e2, _fe2 in spans
                       if p_service != service and p_first <= first and p_last >= last
                       and (p_first, p_last) != (first, last)]
            if parents:
                edges[(min(parents)[1], service)] += 1
    return edges


def error_origins(rows: list[Span]) -> Counter[str]:
    """service -> traces in which its error was the first error of the trace."""
    origins: Counter[str] = Counter()
    for spans in _by_trace(rows).values():
        erring = [(fe, service) for _t, service, _f, _l, errors, fe in spans if errors and fe is not None]
        if erring:
            origins[min(erring)[1]] += 1
    return origins
