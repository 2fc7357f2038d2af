"""Which services the lines of an investigation's window name, and the blame that follows
(agents/scope.gather runs both): the error lines of anomalous services (`errors_name`), and
the risen or new lines of any level of changed services (`changes_name`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from db.pool import Database

if TYPE_CHECKING:
    from agents.scope import Scope, ServiceView

SEVERE = ("error", "critical", "alert", "emergency")


def errors_name(db: Database, scope: Scope, matcher) -> None:
    """Which services the error lines of anomalous services name (by name, alias, unit on the
    line's host, host:port). A host-layer reporter (the kernel killing a process, say) whose
    every severe line names a service hands its anomaly to that service."""
    from db import events

    views = sorted(scope.anomalous(), key=lambda v: v.layer is None)       # reporters first
    for view in views:
        severe = sorted((t for t in view.templates if t["level"] in SEVERE), key=lambda t: -t["count"])[:4]
        samples = events.examples(db, [t["template_id"] for t in severe], 1,
                                  events.EventFilter(service=[view.name], since=scope.since, until=scope.until))
        named_everywhere = bool(severe)
        subjects: list[tuple[str, int, str]] = []
        for template_id, lines in samples.items():
            named = False
            for line in lines:
                for ref in matcher.find(line["message"], line["host"]):
                    if ref.service != view.name:
                        named = True
                        subjects.append((ref.service, template_id, line["host"]))
                        scope.references.setdefault(ref.service, []).append((view.name, template_id))
                        if ref.service in scope.services:
                            scope.services[ref.service].named_by.add(view.name)
            named_everywhere &= named
        for subject, template_id, host in subjects:
            target = scope.services.get(subject)
            # a dependency the errors blame is a suspect from that minute on, even if its own
            # logs look calm (a partitioned or hung backend says nothing)
            if (view.layer is None and target is not None and not target.anomalous
                    and subject in scope.upstream.get(view.name, set())):
                target.onset = next((t["first"] for t in view.templates if t["template_id"] == template_id), view.onset)
                target.strength = max(target.strength, 2.0)
                target.anomalous_hosts |= target.hosts
        if view.layer is not None and named_everywhere:
            for subject, template_id, host in subjects:
                target = scope.services.get(subject)
                if target is None:
                    continue
                first = next((t["first"] for t in view.templates if t["template_id"] == template_id), view.onset)
                if target.onset is None or (first and first < target.onset):
                    target.onset = first
                target.strength = max(target.strength, view.strength)
                target.anomalous_hosts.add(host)
            view.onset, view.strength = None, 0.0


NAMING_TEMPLATES, NAMING_EXAMPLES = 3, 3


def changes_name(db: Database, scope: Scope, matcher) -> None:
    """What a changed service's changed lines name (blame_named_in_changes), read from the
    window's example lines of those templates."""
    from db import events

    for view in list(scope.services.values()):
        rising = naming_candidates(view)
        if rising:
            samples = events.examples(db, [t.template_id for t in rising], NAMING_EXAMPLES,
                                      events.EventFilter(service=[view.name], since=scope.since, until=scope.until))
            blame_named_in_changes(scope, view, samples, matcher)


def naming_candidates(view: "ServiceView") -> list:
    """A changed service's templates that rose or appeared against its baseline, at any level,
    most surprising first (agents/change.TemplateChange)."""
    from agents.change import CHANGED

    if view.change is None or not view.change.changed or view.layer is not None:
        return []
    return [t for t in view.change.templates if t.kind in ("new", "rise") and t.surprise >= CHANGED][:NAMING_TEMPLATES]


def blame_named_in_changes(scope: Scope, view: "ServiceView", samples: dict[int, list[dict]], matcher) -> None:
    """`samples`: template id -> example lines ({"message", "host"}) of `view`'s changed
    templates. A dependency of `view` named in every example of one (a caller's "X returned
    null, using default", "unexpected upstream state" with `upstream: X`) is blamed as by
    errors (named_by; a calm one becomes a suspect from the template's first minute): a wrong
    answer or a slow one often shows only in its callers, and not at error level. A name in a
    variable position (a gateway's routes) names a different service each time: none."""
    dependencies = scope.upstream.get(view.name, set())
    for template_id, lines in samples.items():
        named = [{ref.service for ref in matcher.find(line["message"], line["host"])} for line in lines]
        for subject in sorted(set.intersection(*named) if named else set()):
            target = scope.services.get(subject)
            if subject == view.name or target is None or subject not in dependencies:
                continue
            target.named_by.add(view.name)
            scope.references.setdefault(subject, []).append((view.name, template_id))
            if not target.anomalous:
                first = next((t["first"] for t in view.templates if t["template_id"] == template_id), None)
                target.onset = first or view.onset or scope.since
                target.strength = max(target.strength, 2.0)
                target.anomalous_hosts |= target.hosts
