"""The on-call routes of the chat: "what's wrong right now?" (the open incidents and their
ranked root causes first, then fresh errors), "why did <service> fail?" (the finished
investigation's conclusion, else the service's errors) and "is there a runbook for ...?"
(the runbook sections that match, by meaning and by the services named)."""
from __future__ import annotations

import re
from datetime import timedelta

from langgraph.runtime import Runtime

from graphs.chat_router import NOW_WORDS
from graphs.chat_steps import ChatState, answer, call, entities, error_lines
from ingest.inventory import Inventory
from tools import catalog
from tools import incidents as incident_tools

FRESH = timedelta(minutes=15)       # "right now": errors this recent, unless the question gives a window
CAUSE_WINDOW = timedelta(hours=1)   # "what is causing ...?" naming no service: the errors of the last hour
_ASKING = re.compile(r"\b(?:is|are|there|do|does|we|you|have|has|any|a|an|the|runbooks?|playbooks?|for|about|on|"
                     r"what|which|how|to|handle|fix|me|show|find|please)\b|[?!.,]", re.I)


def _when(iso: str | None) -> str:
    return f"{iso[:16].replace('T', ' ')} UTC" if iso else "?"


def _conclusion_lines(conclusion: dict) -> tuple[list[str], list[str]]:
    """A report's conclusion as lines (hypothesis, the ranking, what to do) and its citations."""
    confidence = conclusion.get("confidence")
    shown = f" (confidence {confidence:.2f})" if isinstance(confidence, (int, float)) else ""
    lines = [f"  Root cause: {conclusion['root_cause_hypothesis']}{shown}"]
    cites: list[str] = []
    ranked = []
    for n, c in enumerate(conclusion["candidates"], 1):
        where = f" on {c['host']}" if c.get("host") else ""
        score = f" (score {c['score']:.2f})" if isinstance(c.get("score"), (int, float)) else ""
        ids = " ".join(f"[template:{t}]" for t in c["template_ids"])
        ranked.append(f"{n}. {c['service']}{where}{score}{' ' + ids if ids else ''}")
        cites += [f"template:{t}" for t in c["template_ids"]]
    if ranked:
        lines.append("  Ranked: " + "; ".join(ranked))
    lines += [f"  - do: {a}" for a in conclusion["suggested_actions"]]
    cites += [f"template:{t}" for t in conclusion["evidence_template_ids"]]
    return lines, cites


def current(state: ChatState, runtime: Runtime) -> dict:
    """The fleet now: the incidents not resolved (newest first) with their ranked root
    causes, then the error lines of the last 15 minutes (or the question's window)."""
    ctx, e = runtime.context.tools, entities(state)
    r = call("open_incidents", incident_tools.open_incidents, ctx, limit=5)
    lines: list[str] = []
    cites: list[str] = []
    if r.status == "ok":
        lines.append(f"**{len(r.data)} open incident{'s' * (len(r.data) != 1)}**, newest first:")
        for i in r.data:
            more, ids = _incident_lines(i, pending=True)
            lines += more
            cites += ids
    else:
        lines.append("No open incidents (none open, acknowledged or snoozed).")
    until = e.until or ctx.now()
    now_asked = bool(NOW_WORDS.search(state["question"]))         # "right now": fresh errors; "why ...": the last hour
    since = e.since or until - (FRESH if now_asked else CAUSE_WINDOW)
    heading = f"Errors {e.window_text}" if e.window_text else \
        f"Errors in the last {'15 minutes' if now_asked else 'hour'}"
    more, ids = error_lines(ctx, None, None, since, until, heading)
    return answer([*lines, "", *more], [*cites, *ids])


def _incident_lines(i: dict, pending: bool) -> tuple[list[str], list[str]]:
    """One open incident as a list item with its ranked root causes; `pending`: say so when
    it is not investigated yet."""
    lines = [f"- [incident:{i['incident_id']}] {i['severity']}, {i['state']}, opened "
             f"{_when(i['opened_at'])}: {i['title']}"]
    cites = [f"incident:{i['incident_id']}"]
    if i["conclusion"]:
        more, ids = _conclusion_lines(i["conclusion"])
        lines += more
        cites += ids
    elif pending:
        lines.append(f"  Not investigated yet (investigation {i['status']}).")
    return lines, cites


def incidents_involving(ctx, services: list[str]) -> tuple[list[str], list[str]]:
    """The incidents not resolved that involve any of `services`, each with its ranked root
    causes (as "what's wrong right now?" shows them); (lines, citations), none: ([], [])."""
    r = call("open_incidents", incident_tools.open_incidents, ctx, limit=20)
    lines: list[str] = []
    cites: list[str] = []
    for i in r.data or []:
        if set(i["services"] or []) & set(services):
            more, ids = _incident_lines(i, pending=False)
            lines += more
            cites += ids
    if lines:
        lines.insert(0, "**Open incidents involving them:**")
    return lines, cites


def cause(state: ChatState, runtime: Runtime) -> dict:
    """Why a service failed: the newest incident involving it whose investigation finished
    (in the question's window when it gives one), its ranked root causes and what to do;
    without one, the service's errors, saying so."""
    ctx, e = runtime.context.tools, entities(state)
    service = e.services[0]
    r = call("service_root_cause", incident_tools.service_root_cause, ctx, service=service, since=e.since,
             until=e.until)
    if r.status != "ok":
        lines, cites = error_lines(ctx, service, None, e.since, e.until)
        return answer([f"No finished investigation involves {service}"
                       f"{' ' + e.window_text if e.window_text else ''} ({r.hint}); its errors instead.", *lines],
                      cites)
    d, c = r.data, r.data["conclusion"]
    lines = [f"**[incident:{d['incident_id']}]** {d['severity']}, {d['state']}, opened {_when(d['opened_at'])}: "
             f"{d['title']}"]
    if c["root_cause_service"] and c["root_cause_service"] != service:
        lines.append(f"  {service} is not the first suspect: the investigation ranks {c['root_cause_service']} "
                     f"first, and {service} was hit by it.")
    more, cites = _conclusion_lines(c)
    lines += more
    if d["newer"]:
        lines.append("Newer incidents involving " + service + " are not investigated yet: "
                     + ", ".join(f"[incident:{n}]" for n in d["newer"]) + ".")
    return answer(lines, [f"incident:{d['incident_id']}", *cites, *(f"incident:{n}" for n in d["newer"])])


def topic(question: str) -> str:
    """What a runbook question is about, without its asking words ("is there a runbook
    for disk full?" -> "disk full"); the whole question when nothing is left."""
    words = " ".join(_ASKING.sub(" ", question).split())
    return words or question


def titled_runbooks(about: str, inventory: Inventory | None) -> list:
    """The inventory's runbooks whose id or title holds every word of the topic ("disk full"
    -> disk-full, "Disk full on a database host"): their services lead the section search."""
    words = set(re.findall(r"[a-z0-9]+", about.lower()))
    if not words or inventory is None:
        return []
    return [b for b in inventory.runbooks if words <= set(re.findall(r"[a-z0-9]+", f"{b.id} {b.title}".lower()))]


def runbook(state: ChatState, runtime: Runtime) -> dict:
    """The runbooks that match the question's topic (by meaning) and the services it names,
    each with its best sections, cited as [runbook:ID#SECTION]."""
    ctx, e = runtime.context.tools, entities(state)
    about, inventory = topic(state["question"]), runtime.context.inventory()
    titled = titled_runbooks(about, inventory)
    services = list(dict.fromkeys([*e.services, *(s for b in titled for s in b.services)]))
    r = call("find_runbooks", catalog.find_runbooks, ctx, services=services, query=about)
    wanted = {b.id for b in titled}
    books = [b for b in (r.data or []) if b.get("sections") or set(b.get("services") or []) & set(e.services)
             or b["id"] in wanted]
    others = [b for b in books if b["id"] not in wanted] if wanted else []
    books = [b for b in books if b["id"] in wanted] or books        # the ones the question's words name
    if r.status != "ok" or not books:
        known = [f"{b.id} ({b.title})" for b in inventory.runbooks] if inventory else []
        return answer([f"No runbook matches “{about}”" + (f" for {', '.join(e.services)}" if e.services else "")
                       + (f" ({r.hint})" if r.hint else "") + ".",
                       ("The inventory lists: " + "; ".join(known) + "." if known else
                        "None are known; `devmesh runbooks ingest DIR` adds runbook documents."),
                       "`GET /runbooks` lists every runbook document."], [])
    lines = [f"Runbooks for “{about}”" + (f" on {', '.join(e.services)}" if e.services else "") + ":"]
    cites: list[str] = []
    for b in books[:3]:
        lines.append(f"- [runbook:{b['id']}] {b['title']}" + (f" ({b['path']})" if b.get("path") else ""))
        cites.append(f"runbook:{b['id']}")
        for x in b.get("sections", [])[:3]:
            lines.append(f"  - [runbook:{x['runbook_section']}] {x['heading']}")
            cites.append(f"runbook:{x['runbook_section']}")
    if others:
        lines.append("Also for " + ", ".join(services) + ": " + "; ".join(f"[runbook:{b['id']}] {b['title']}"
                                                                        for b in others[:4]) + ".")
        cites += [f"runbook:{b['id']}" for b in others[:4]]
    return answer(lines, cites)
