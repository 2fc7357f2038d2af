"""The context packer: the best evidence about a service and a window, under a token budget.

Templates (with their counts and one or two example lines), never raw floods: the focus
service first, then its graph neighbours by distance; within each, the most severe and
most anomalous first. Runbooks linked in the inventory come last. Tokens are estimated
at four characters each (close enough for budgeting a prompt).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db import counts, events
from db import graph as cypher
from db import templates as template_sql
from db.events import EventFilter
from db.graph import Graph
from db.levels import LEVELS
from db.pool import Database
from retrieval.evidence import Evidence, example, template_ref
from retrieval.hybrid import anomaly_score
from retrieval.topology import distances


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class Context:
    service: str
    since: datetime
    until: datetime
    services: dict[str, int] = field(default_factory=dict)     # service -> hops from the focus
    evidence: list[Evidence] = field(default_factory=list)
    text: str = ""
    tokens: int = 0
    truncated: bool = False

    def as_dict(self) -> dict:
        return {"service": self.service, "since": self.since.isoformat() + "Z", "until": self.until.isoformat() + "Z",
                "services": self.services, "evidence": [e.as_dict() for e in self.evidence], "text": self.text,
                "tokens": self.tokens, "truncated": self.truncated}


def pack(db: Database, graph: Graph, service: str, since: datetime, until: datetime,
         budget: int = 2000, depth: int = 1, max_templates: int = 200) -> Context:
    ctx = Context(service, since, until)
    ctx.services = distances(graph, [service], depth) or {service: 0}
    rows = counts.active_templates(db, since, until, sorted(ctx.services), max_templates)
    span = (until - since).total_seconds()
    baseline = counts.window_stats(db, sorted({t for _, t, _, _ in rows}), since - timedelta(seconds=4 * span),
                                   since)

    def rank(row):
        svc, tid, count, level = row
        anomaly = anomaly_score(count, baseline.get(tid, {}).get("count", 0), span, 4 * span)
        return (ctx.services.get(svc, 9), -LEVELS.index(level), -anomaly, -count)

    rows.sort(key=rank)
    info = template_sql.get_many(db, [t for _, t, _, _ in rows])
    header = f"Context for {service}, {since.isoformat()}Z .. {until.isoformat()}Z\n"
    lines, used = [header], tokens(header)
    for svc, tid, count, level in rows:
        samples = events.examples(db, [tid], 2, EventFilter(service=[svc], since=since, until=until)).get(tid, [])
        item = Evidence("template", template_ref(tid), info[tid]["template"], services=[svc], count=count,
                        level=level, sources=["rollup"], examples=[example(e, 200) for e in samples],
                        components={"hops": ctx.services.get(svc, 0)})
        block = (f"[{item.id}] {svc} {level} x{count}: {item.text}\n"
                 + "".join(f"    e.g. [{e['id']}] {e['ts']} {e['host']}: {e['message']}\n" for e in item.examples))
        cost = tokens(block)
        if used + cost > budget:
            ctx.truncated = True
            break
        lines.append(block)
        used += cost
        ctx.evidence.append(item)
    for runbook in cypher.runbooks_for(graph, [service]):
        block = f"[runbook:{runbook['id']}] {runbook['title']} ({runbook['path']})\n"
        if used + tokens(block) > budget:
            ctx.truncated = True
            break
        lines.append(block)
        used += tokens(block)
        ctx.evidence.append(Evidence("runbook", f"runbook:{runbook['id']}", runbook["title"], sources=["inventory"],
                                     services=runbook["services"]))
    ctx.text, ctx.tokens = "".join(lines), used
    return ctx
