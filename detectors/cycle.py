"""One detector cycle: rollups since the last processed minute -> signals -> incidents.

Only one process runs a cycle at a time, across any number of servers: the MariaDB named
lock `devmesh_detectors` and the lease of that name (db/leases.py; a row, so it holds on a
Galera cluster, where GET_LOCK is per node). The server's loop keeps the lease between its
cycles, so one server leads until it stops renewing and another takes over `lease_s` later;
a cycle reads and writes in one transaction, so one that dies
leaves the state as it was and the next cycle redoes the same minutes. `now` always comes
from the caller: the server passes the wall clock, replays and tests pass their own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db import leases
from db import detector_sql as sql
from db import exceptions as exception_sql
from db import graph as cypher
from db import incidents as incident_sql
from db import lifecycle
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from db.tracing import NOOP, Tracer
from detectors import exceptions, patterns, quiet, rates
from detectors.settings import DetectorSettings
from detectors.signals import Signal

log = logging.getLogger(__name__)
LOCK = "devmesh_detectors"
LOOKBACK = timedelta(minutes=15)            # an incident's window starts this long before its signal


@dataclass
class CycleResult:
    ran: bool
    minutes: int = 0
    signals: list[Signal] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)      # reported, then a signal changed the picture
    resolved: list[int] = field(default_factory=list)      # their signals stayed quiet
    unwitnessed: int = 0                                     # silences dropped: nothing else was heard either
    held: list[dict] = field(default_factory=list)          # signals waiting out a restart's grace
    absorbed: list[Signal] = field(default_factory=list)    # transient around a restart, or habitual

    def as_dict(self) -> dict:
        return {"ran": self.ran, "minutes": self.minutes, "opened": self.opened, "updated": self.updated,
                "requeued": self.requeued, "resolved": self.resolved, "unwitnessed": self.unwitnessed,
                "held": len(self.held), "absorbed": len(self.absorbed),
                "signals": [{"detector": s.detector, "service": s.service, "host": s.host, "at": s.at.isoformat(),
                             "severity": s.severity, "message": s.message} for s in self.signals]}


def _floor(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def run_cycle(db: Database, graph: Graph | None, settings: DetectorSettings, now: datetime,
              units: dict[str, str] | None = None, tracer: Tracer = NOOP, keep_lease: bool = False) -> CycleResult:
    """One cycle under the detectors' lock, traced as one `detector cycle` span. keep_lease:
    the server's loop keeps the lease between its cycles (it leads until it stops renewing);
    a one-off run gives it up at the end."""
    with tracer.start_as_current_span("detector cycle") as span:
        result = _locked_cycle(db, graph, settings, now, units, keep_lease)
        if span.is_recording():
            span.set_attributes({"devmesh.ran": result.ran, "devmesh.minutes": result.minutes,
                                 "devmesh.signals": len(result.signals), "devmesh.opened": len(result.opened),
                                 "devmesh.updated": len(result.updated), "devmesh.resolved": len(result.resolved)})
        return result


def _locked_cycle(db: Database, graph: Graph | None, settings: DetectorSettings, now: datetime,
                  units: dict[str, str] | None, keep_lease: bool = False) -> CycleResult:
    end = _floor(now)                       # minutes before `end` are complete
    with db.connection() as conn:
        cur = conn.cursor()
        if not sql.try_lock(cur, LOCK):
            return CycleResult(ran=False)
        try:
            if not leases.acquire(conn, LOCK, settings.lease_s):   # GET_LOCK is per node: the lease holds on Galera
                return CycleResult(ran=False)
            committed = False
            try:
                with leases.Renewer(db, LOCK, settings.lease_s) as renewer:   # a long cycle keeps its lease
                    result = _cycle(cur, graph, settings, end, units or {})
                    if renewer.lost:               # ran past its lease: another server may be leading now
                        conn.rollback()
                        log.warning("detector cycle discarded: its lease ran out or was taken over")
                        return CycleResult(ran=False)
                    conn.commit()
                    committed = True
                    return result
            except BaseException:
                _quietly(conn.rollback)
                raise
            finally:
                if not (keep_lease and committed):     # a failed cycle lets another server try
                    leases.release_quietly(conn, LOCK)
        finally:                                       # never hides the cycle's own error
            _quietly(sql.release_lock, cur, LOCK)
            _quietly(conn.commit)


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - cleanup on a connection that may be gone
        log.warning("detector lock cleanup failed (%s: %s)", type(exc).__name__, exc)


def _cycle(cur, graph: Graph | None, settings: DetectorSettings, end: datetime, units: dict[str, str]) -> CycleResult:
    meta = sql.load_state(cur, "cycle").get("*", {})
    last = meta.get("last_minute")
    if last:
        start = datetime.fromisoformat(last) + rates.MINUTE
        live_from = start
    else:
        first = sql.first_bucket(cur)
        if first is None:
            return CycleResult(ran=True)
        start = max(first, end - timedelta(minutes=settings.bootstrap_minutes))
        live_from = end - rates.MINUTE
    if start >= end:
        return CycleResult(ran=True)
    states = sql.load_state(cur, "rates")
    series = {(m, s): (n, e) for m, s, n, e in sql.minute_counts(cur, start, end)}
    signals = rates.process(series, states, start, end, live_from, settings)
    signals, unwitnessed = _witnessed(cur, signals, end, settings)

    at = end - rates.MINUTE

    def learning(service: str) -> bool:
        return rates.in_learning(states.get(service), at, settings)

    active = sql.active_in(cur, live_from, end)
    signals += patterns.new_error_templates(sql.new_templates(cur, live_from, end), active, at, learning)
    signals += patterns.catastrophic(active, at, learning)
    signals += exceptions.cluster_signals(exception_sql.cluster_changes(cur, live_from, end), at, learning)
    window = timedelta(minutes=settings.correlation_minutes)
    signals += [s for s in patterns.correlation(sql.active_in(cur, end - window, end), units, at, window)
                if not learning(s.service)]

    quiet_from = end - timedelta(minutes=settings.stopped_minutes)
    habit_from = quiet_from - timedelta(minutes=settings.habit_minutes)
    if live_from >= end - rates.MINUTE and (sql.first_bucket(cur) or end) <= habit_from:
        signals += patterns.stopped(sql.habits(cur, habit_from, quiet_from, end,
                                               int(settings.habit_share * settings.habit_minutes)),
                                    at, settings.habit_minutes, settings.stopped_minutes, learning)
    signals, held, absorbed = _hold(cur, graph, settings, signals, meta.get("held", []), units, end)
    cooldowns = meta.get("cooldown", {})
    kept = []
    for sig in sorted(signals, key=lambda s: (s.at, s.detector, s.service)):
        key = f"{sig.detector}|{sig.service}"
        if key in cooldowns and datetime.fromisoformat(cooldowns[key]) > sig.at:
            continue
        cooldowns[key] = (sig.at + timedelta(minutes=settings.cooldown_minutes)).isoformat()
        kept.append(sig)
    result = CycleResult(ran=True, minutes=int((end - start) / rates.MINUTE), signals=kept, held=held,
                         absorbed=absorbed, unwitnessed=unwitnessed)
    _lifecycle(cur, settings, end, result)
    _merge(cur, graph, settings, kept, end, result)
    horizon = end - timedelta(days=1)
    meta = {"last_minute": (end - rates.MINUTE).isoformat(), "held": held,
            "absorbed": meta.get("absorbed", 0) + len(absorbed),
            "cooldown": {k: v for k, v in cooldowns.items() if datetime.fromisoformat(v) > horizon}}
    sql.save_state(cur, "rates", states)
    sql.save_state(cur, "cycle", {"*": meta})
    return result


def _witnessed(cur, signals: list[Signal], end: datetime, settings: DetectorSettings) -> tuple[list[Signal], int]:
    """A silence counts only when the rest of the fleet went on talking as it began: lines
    from other services in two of its first three quiet minutes, and in at least half of
    the `silence_minutes` from its first quiet minute.
    When everyone went quiet together (the shipper or the network is down, a replay or a
    demo ended) no service is to blame for its silence, now or an hour later."""
    silences = [s for s in signals if s.detector == "silence"]
    if not silences:
        return signals, 0
    silent = {s.service for s in silences}
    span = timedelta(minutes=settings.silence_minutes)

    def onset(sig: Signal) -> datetime:
        return sig.at - timedelta(minutes=sig.detail.get("quiet_minutes", settings.silence_minutes)) + rates.MINUTE

    first = min(onset(s) for s in silences)
    until = min(end, max(onset(s) for s in silences) + span)
    heard = {minute for minute, service, total, _ in sql.minute_counts(cur, first, until)
             if service not in silent and total > 0}
    def witnessed(sig: Signal) -> bool:
        begin = onset(sig)
        during = [m for m in heard if begin <= m < begin + span]
        first = sum(m < begin + 3 * rates.MINUTE for m in during)
        return first >= 2 and 2 * len(during) >= settings.silence_minutes

    dropped = [s for s in silences if not witnessed(s)]
    for sig in dropped:
        log.info("silence of %s not signalled: the rest of the fleet went quiet with it at %s", sig.service,
                 onset(sig).isoformat())
    return [s for s in signals if s not in dropped], len(dropped)


def _lifecycle(cur, settings: DetectorSettings, end: datetime, result: CycleResult) -> None:
    """Snoozes that ran out open again; incidents whose signals stayed quiet are resolved."""
    for incident_id in lifecycle.wake_snoozed(cur, end):
        log.info("incident %s: snooze over, open again", incident_id)
    if settings.resolve_quiet_minutes > 0:
        result.resolved = lifecycle.resolve_quiet(cur, end - timedelta(minutes=settings.resolve_quiet_minutes), end)
        for incident_id in result.resolved:
            log.info("incident %s resolved: no signal for %d min", incident_id, settings.resolve_quiet_minutes)


def _related(ask, unknown):
    """`ask()` of the graph, or `unknown` when there is none or it is down."""
    try:
        return ask()
    except GraphUnavailable as exc:
        log.warning("graph unavailable while relating signals (%s); by service and host only", exc)
        return unknown


def _near(graph: Graph | None, service: str, hops: int) -> dict[str, int]:
    return _related(lambda: cypher.near(graph, [service], hops), {service: 0}) if graph else {service: 0}


def _causal(graph: Graph | None, service: str, hops: int) -> tuple[dict[str, int], dict[str, int]]:
    return _related(lambda: cypher.causal(graph, service, hops), ({}, {})) if graph else ({}, {})


def _hold(cur, graph: Graph | None, settings: DetectorSettings, signals: list[Signal], held: list[dict],
          units: dict[str, str], end: datetime) -> tuple[list[Signal], list[dict], list[Signal]]:
    """Maintenance and habit (detectors/quiet.py): signals inside a restart's grace wait;
    those still happening when it ends go on, and so do those of a service that fell silent
    after the restart; habitual ones (same time yesterday) are dropped.
    -> (signals that go on, signals still waiting, signals absorbed)."""
    grace = timedelta(minutes=settings.restart_grace_minutes)
    lookback = grace + timedelta(minutes=settings.stopped_minutes)
    services = quiet.maintenance(sql.active_minutes(cur, end - lookback, end), units)
    history_from = sql.first_bucket(cur)
    going, waiting, absorbed = [], {}, []
    for row in held:
        until = datetime.fromisoformat(row["until"])
        if until >= end:
            waiting[(row["detector"], row["service"])] = row
        elif quiet.still_happening(cur, row, until, end, settings.spike_min_count):
            going.append(quiet.from_dict(row))
        elif quiet.stayed_down(cur, row, end):
            going.append(quiet.from_dict(row, "restarted and has logged nothing since"))
        else:
            absorbed.append(quiet.from_dict(row))
    for sig in signals:
        if quiet.habitual(cur, sig, history_from):
            absorbed.append(sig)
            continue
        until = quiet.holds(sig, services, set(_near(graph, sig.service, 1)), grace)
        if until is None or until <= sig.at:
            going.append(sig)
            continue
        if until == datetime.max:
            absorbed.append(sig)
            continue
        key = (sig.detector, sig.service)
        row = quiet.as_dict(sig, until)
        if key in waiting:
            earlier = waiting[key]
            row["at"], row["message"] = earlier["at"], earlier["message"]
            row["template_ids"] = sorted(set(earlier["template_ids"]) | set(sig.template_ids))
            row["until"] = max(earlier["until"], row["until"])
        waiting[key] = row
    return going, list(waiting.values()), absorbed


def _known(graph: Graph | None, service: str, cache: dict[str, bool]) -> bool:
    """The graph has at least one dependency edge for this service (unknown: assume it does)."""
    if service not in cache:
        try:
            cache[service] = bool(cypher.with_edges(graph, [service])) if graph else False
        except GraphUnavailable:
            cache[service] = True
    return cache[service]


def _opened(incident: dict) -> datetime:
    return datetime.fromisoformat(incident["opened_at"].rstrip("Z"))


def _on_chain(incident: dict, service: str, chain: tuple[dict[str, int], dict[str, int]]) -> bool:
    """`service` is on a dependency chain with the incident (`chain`: what it depends on,
    what depends on it; db/graph.causal). Once a report named a root cause, the chain must
    run through that root cause, or up from the service to one the incident impacts (a caller
    of an impacted service is impacted too); a failure beneath an impacted service that the
    root cause does not reach is another fault."""
    up, down = chain
    root = incident.get("root_cause")
    if root is None:
        return any(s == service or s in up or s in down for s in incident["services"])
    return root == service or root in up or root in down or any(s in up for s in incident["services"])


def _merge(cur, graph: Graph | None, settings: DetectorSettings, signals: list[Signal], end: datetime,
           result: CycleResult) -> None:
    """Fold each signal into an active incident on a connected service, or open one. One
    fault, one incident: where the graph knows nothing of either side (no edge at all, the
    usual state of a fleet with no dependencies written), a signal within merge_any_minutes of
    an incident's opening joins it; where it knows them and they are apart, they stay apart.
    "Connected" counts the incident's services and the root cause its report named, and a
    signal whose dependency chain reaches a service on the incident's host. Resolved
    incidents take nothing (recent_active). A signal on a service new to a reported incident
    changes its picture: it is investigated again (and split off when the new ranking names
    another root cause, graphs/investigate.py)."""
    active = incident_sql.recent_active(cur, end - timedelta(minutes=settings.merge_minutes))
    near: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    recent = end - timedelta(minutes=settings.merge_any_minutes)
    known: dict[str, bool] = {}

    def hops(service: str) -> tuple[dict[str, int], dict[str, int]]:
        if service not in near:
            near[service] = _causal(graph, service, settings.merge_hops)
        return near[service]

    placed: list[dict[str, set[str]]] = []           # service -> its hosts, read once a cycle when needed

    def on_its_host(incident: dict, service: str) -> bool:
        """A service on the signal's dependency chain runs on the incident's host: the kernel
        OOM-killing a worker on app-1 and the proxy in front of that worker are one fault."""
        if not incident.get("host") or graph is None:
            return False
        if not placed:
            placed.append({row["name"]: set(row["hosts"]) for row in _related(lambda: cypher.services(graph), [])})
        up, down = hops(service)
        return any(incident["host"] in placed[0].get(other, set()) for other in (*up, *down))

    for sig in signals:
        target = None
        # the incident that grew last first: a symptom shared by an old fault and a new one
        # (an API in front of both) belongs to what is happening now
        for incident in sorted(active, key=lambda i: (i["window_end"], i["id"]), reverse=True):
            if (sig.service in incident["services"] or (sig.host and sig.host == incident["host"])
                    or (_opened(incident) >= recent and not _known(graph, sig.service, known)
                        and not any(_known(graph, s, known) for s in incident["services"]))
                    or _on_chain(incident, sig.service, hops(sig.service)) or on_its_host(incident, sig.service)):
                target = incident
                break
        if target is None:
            title = f"{sig.detector.replace('_', ' ')} on {sig.service}" + (f" ({sig.host})" if sig.host else "")
            incident_id = incident_sql.open_incident(cur, title, sig.detector, sig.severity, sig.service, sig.host,
                                                     [sig.service], sig.at - LOOKBACK, sig.at + rates.MINUTE, end)
            target = {"id": incident_id, "services": [sig.service], "host": sig.host,
                      "opened_at": end.isoformat() + "Z", "window_end": (sig.at + rates.MINUTE).isoformat() + "Z"}
            active.append(target)
            result.opened.append(incident_id)
            log.info("incident %s opened: %s (%s at %s)", incident_id, title, sig.detector, sig.at.isoformat())
        else:
            incident_sql.widen(cur, target["id"], sig.severity, [sig.service], sig.at + rates.MINUTE)
            new_service = sig.service not in target["services"]
            target["window_end"] = max(target["window_end"], (sig.at + rates.MINUTE).isoformat() + "Z")
            target["services"] = sorted(set(target["services"]) | {sig.service})
            if target["id"] not in result.opened and target["id"] not in result.updated:
                result.updated.append(target["id"])
            log.info("incident %s: %s on %s merged in", target["id"], sig.detector, sig.service)
            if (new_service and target["id"] not in result.requeued
                    and incident_sql.changed_picture(cur, target["id"])):
                result.requeued.append(target["id"])
                log.info("incident %s: %s is new to it; investigating again", target["id"], sig.service)
        incident_sql.add_signal(cur, target["id"], sig.detector, sig.service, sig.host, sig.severity, sig.at,
                                sig.message, sig.template_ids, sig.detail)
