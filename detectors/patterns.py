"""Template detectors over the live minutes: a new ERROR-or-worse template, catastrophic
primitives from the catalogue, correlation (OOM on a host, then restarts on it), and a
habit that stopped (a template a service logged nearly every minute, gone while the
service goes on talking: a consumer that stopped consuming, a job that stopped running)."""
from __future__ import annotations

from datetime import datetime, timedelta

from detectors.catalogue import RESTART, match
from detectors.signals import Signal


def new_error_templates(new: list[tuple[int, str, str]], active: list[tuple], at: datetime,
                        learning) -> list[Signal]:
    """new: (template id, text, level) first seen in the live minutes; active: rollup rows."""
    where: dict[int, list[tuple[str, str]]] = {}
    for service, host, template_id, _text, _count, _level in active:
        where.setdefault(template_id, []).append((service, host))
    out = []
    for template_id, text, level in new:
        for service, host in sorted(set(where.get(template_id, []))):
            if not learning(service):
                out.append(Signal("new_error_template", service, at, "error" if level == "error" else "critical",
                                  f"new {level} template on {service}: {text[:200]}", host, [template_id]))
    return out


def catastrophic(active: list[tuple], at: datetime, learning) -> list[Signal]:
    grouped: dict[tuple[str, str, str], Signal] = {}
    for service, host, template_id, text, count, _level in active:
        if learning(service):
            continue
        for primitive in match(text):
            key = (service, host, primitive.name)
            sig = grouped.get(key)
            if sig is None:
                sig = grouped[key] = Signal("catastrophic", service, at, primitive.severity,
                                            f"{primitive.name} on {service} ({host}): {text[:200]}", host,
                                            detail={"primitive": primitive.name, "count": 0})
            sig.template_ids.append(template_id)
            sig.detail["count"] += count
    return list(grouped.values())


def correlation(recent: list[tuple], units: dict[str, str], at: datetime, window: timedelta) -> list[Signal]:
    """An OOM kill on a host and restarts of services on that host within `window` (recent:
    rollup rows of that window) -> one correlation signal per restarted service.
    units: unit, service or alias name (lower case) -> inventory service."""
    oom_hosts = {host for _s, host, _t, text, _c, _l in recent if any(p.name == "oom_kill" for p in match(text))}
    out = []
    for host in sorted(oom_hosts):
        restarted: dict[str, list[int]] = {}
        for _service, row_host, template_id, text, _count, _level in recent:
            if row_host != host or not RESTART.search(text):
                continue
            for token in text.replace(":", " ").split():
                target = units.get(token.lower().rstrip(".,"))
                if target:
                    restarted.setdefault(target, []).append(template_id)
        for target, template_ids in sorted(restarted.items()):
            out.append(Signal("correlation", target, at, "critical",
                              f"{target} restarted on {host} after an OOM kill there", host, sorted(set(template_ids)),
                              {"host": host, "cause": "oom_kill", "window_minutes": window.total_seconds() / 60}))
    return out


def stopped(rows: list[tuple[str, int, str, int, int]], at: datetime, habit_minutes: int, quiet_minutes: int,
            learning) -> list[Signal]:
    """rows: db.detector_sql.habits. One signal per service, naming every template it stopped."""
    per: dict[str, list[tuple[int, str, int, int]]] = {}
    for service, template_id, text, minutes, lines in rows:
        if not learning(service):
            per.setdefault(service, []).append((template_id, text, minutes, lines))
    out = []
    for service, gone in sorted(per.items()):
        gone.sort(key=lambda g: -g[3])
        template_id, text, minutes, lines = gone[0]
        out.append(Signal("stopped", service, at, "warning",
                          f"{service} stopped logging {len(gone)} line(s) it logged in {minutes} of the last "
                          f"{habit_minutes} minutes ({lines} lines), none for {quiet_minutes} min: {text[:160]}",
                          template_ids=[g[0] for g in gone[:10]],
                          detail={"templates": len(gone), "quiet_minutes": quiet_minutes}))
    return out
