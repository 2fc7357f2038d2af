"""Exception clusters as detector signals: a cluster first seen in the live minutes (a new
bug, outside the service's learning period) or a resolved cluster seen again (a regression,
always). The cluster id rides in the signal's detail so the incident can cite it."""
from __future__ import annotations

from datetime import datetime

from detectors.signals import Signal


def cluster_signals(changes: list[tuple], at: datetime, learning) -> list[Signal]:
    """changes: db/exceptions.cluster_changes rows."""
    out = []
    for cluster_id, service, change, exc_type, template, total, template_id in changes:
        if change == "new" and learning(service):
            continue
        verb = "new exception" if change == "new" else "regressed exception"
        out.append(Signal("exception_cluster", service, at, "error", f"{verb} on {service}: {template[:200]}",
                          template_ids=[template_id] if template_id else [],
                          detail={"cluster_id": cluster_id, "change": change, "exception_type": exc_type,
                                  "count": int(total)}))
    return out
