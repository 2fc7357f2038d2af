"""The scoring functions on hand-built views (no database, no graph): what changed decides,
the graph only relates the changes, and the statistics are honest at small counts."""
from __future__ import annotations

from datetime import datetime, timedelta

from agents import change, root_cause, trace_change, trace_spectrum
from agents.scope import Scope, ServiceView

T0 = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)


def _steady(templates: dict[int, tuple[str, int]], minutes: int) -> list[tuple]:
    """(template id, level, baseline count, window count, text) for a service whose mix
    stays the same: window counts in proportion to the baseline's."""
    return [(tid, level, n * minutes, n * 10, f"line {tid}") for tid, (level, n) in templates.items()]


def _scope(views: dict[str, list[tuple]], upstream: dict[str, set[str]], baseline_minutes: int = 60) -> Scope:
    scope = Scope({"services": [], "service": None}, T0, T0 + 10 * M, T0 - baseline_minutes * M, baseline_minutes)
    for name, rows in views.items():
        view = ServiceView(name, hosts={f"{name}-host"})
        view.change = change.service_change(name, rows, baseline_minutes, 10)
        if view.change.changed:
            view.onset = T0 + M
            view.anomalous_hosts = set(view.hosts)
        scope.services[name] = view
    scope.upstream = {name: set(upstream.get(name, set())) for name in views}
    return scope


CALM = {1: ("info", 40), 2: ("info", 10), 3: ("warning", 1)}


def _failing(extra_errors: int) -> list[tuple]:
    rows = _steady(CALM, 60)
    return rows + [(99, "error", 0, extra_errors, "upstream call failed: connection reset")]


def test_a_calm_hub_does_not_outrank_the_leaf_that_changed():
    # eight callers all depend on the hub; only one leaf changed, and the two callers of that leaf
    callers = [f"api-{i}" for i in range(8)]
    upstream = {c: {"hub"} for c in callers}
    upstream["api-0"] |= {"leaf"}
    upstream["api-1"] |= {"leaf"}
    views = {c: _steady(CALM, 60) for c in callers}
    views["api-0"] = _failing(40)
    views["api-1"] = _failing(35)
    views["hub"] = _steady(CALM, 60)
    leaf = _steady(CALM, 60)
    leaf[0] = (1, "info", 40 * 60, 400 // 3, "line 1")               # its usual line fell to a third
    views["leaf"] = leaf + [(7, "warning", 0, 6, "pool exhausted, waiting")]
    ranked = root_cause.rank(_scope(views, upstream))
    order = [c.service for c in ranked]
    assert order[0] == "leaf", order
    assert "hub" not in order[:3]
    assert ranked[0].parts["explains"] == 1.0 and ranked[0].parts["quiet"] == 1.0


def test_a_hub_that_itself_fails_ranks_first_over_its_complaining_dependents():
    callers = [f"api-{i}" for i in range(6)]
    upstream = {c: {"hub"} for c in callers}
    views = {c: _failing(30 + i) for i, c in enumerate(callers)}
    views["hub"] = _steady(CALM, 60) + [(50, "error", 0, 5, "deadlock found when trying to get lock")]
    ranked = root_cause.rank(_scope(views, upstream))
    assert ranked[0].service == "hub"
    assert all(c.parts["quiet"] == 0.0 for c in ranked[1:])      # each dependent has a changed hub beneath it


def test_the_graph_alone_lifts_nothing():
    # no service changed: a hub everything depends on gains nothing from it, and the
    # ranking says it is unsure
    upstream = {f"api-{i}": {"hub"} for i in range(5)}
    views = {name: _steady(CALM, 60) for name in [*upstream, "hub"]}
    ranked = root_cause.rank(_scope(views, upstream))
    assert all(c.parts["explains"] == 0.0 for c in ranked)
    hub = [c.score for c in ranked if c.service == "hub"]
    assert not hub or hub[0] <= min(c.score for c in ranked if c.service != "hub") + 1e-12
    assert root_cause.confidence(ranked) <= 0.1


def test_traffic_rising_in_proportion_is_not_a_change():
    base = [(1, "info", 6000, 0, "ok"), (2, "error", 60, 0, "client aborted")]
    surge = [(1, "info", 6000, 3000, "ok"), (2, "error", 60, 30, "client aborted")]   # 3x the rate, same mix
    more_errors = [(1, "info", 6000, 1000, "ok"), (2, "error", 60, 60, "client aborted")]  # 6x the share
    assert not change.service_change("s", surge, 60, 10).changed
    assert change.service_change("s", more_errors, 60, 10).changed
    silent = change.service_change("s", base, 60, 10)          # 100 lines a minute, then none for ten minutes
    assert silent.changed and silent.top_signal() == "volume"


def test_small_counts_and_short_history_are_honest():
    # the same three lines of a never-seen error: barely notable after 2 minutes of history,
    # clearly notable after 2 hours of it
    short = [(1, "info", 40, 200, "ok"), (9, "error", 0, 3, "boom")]
    long = [(1, "info", 2400, 200, "ok"), (9, "error", 0, 3, "boom")]
    s_short = change.service_change("s", short, 2, 10).templates[0].surprise
    s_long = change.service_change("s", long, 120, 10).templates[0].surprise
    assert s_short < 3 < s_long
    assert change.poisson_upper(3, 3.0) == 0.0 or change.poisson_upper(3, 3.0) < 0.5
    assert abs(change.poisson_upper(10, 1.0) - 7.0) < 0.2          # P(X >= 10 | 1) ~ 1.1e-7
    assert abs(change.poisson_lower(0, 10.0) - 10 * change.LOG10E) < 1e-9


def test_a_service_silent_in_its_baseline_that_starts_erroring_has_changed():
    rows = [(5, "error", 0, 6, "resolver failed"), (6, "warning", 0, 7, "degraded feature set")]
    assert change.service_change("resolver", rows, 90, 15).changed
    assert not change.service_change("resolver", rows, 0, 15).changed     # no baseline period at all


def test_change_point_finds_where_the_mix_changed():
    series = {}
    for i in range(10):
        minute = T0 + i * M
        series[minute] = {("a", 1): 30, ("a", 2): 2 if i < 6 else 25, ("b", 3): 10}
    assert change.change_point(series, T0, T0 + 10 * M) == T0 + 6 * M


def _trace(tid: str, start: datetime, hops: list[tuple[str, int, float]]) -> list[tuple]:
    """A call chain: each hop (service, template, ms it adds itself) logs on the way down and up."""
    events, t = [], start
    for service, template, _ms in hops:
        events.append((tid, service, t, template, "info"))
        t += timedelta(milliseconds=1)
    for service, template, ms in reversed(hops):
        t += timedelta(milliseconds=ms)
        events.append((tid, service, t, template + 100, "info"))
    return events


def test_traces_put_a_delay_on_the_callee_that_took_it_not_on_its_callers():
    chain = [("gateway", 1, 2.0), ("orders", 2, 5.0), ("stock", 3, 4.0)]
    slow = [("gateway", 1, 2.0), ("orders", 2, 5.0), ("stock", 3, 400.0)]
    baseline = [e for i in range(40) for e in _trace(f"b{i}", T0 - 30 * M + i * 10 * M / 60,
                                                     [(s, t, ms * (1 + (i % 5) / 10)) for s, t, ms in chain])]
    window = [e for i in range(20) for e in _trace(f"w{i}", T0 + i * M / 10, slow)]
    found = trace_change.compare(baseline, window)
    assert found["stock"].slow > 5
    assert found["orders"].slow == 0.0 and found["gateway"].slow == 0.0


def test_traces_blame_the_callee_after_which_its_callers_change_course():
    def request(tid, start, answer):
        return [(tid, "cart", start, 1, "info"), (tid, "prices", start + timedelta(milliseconds=2), 2, "info"),
                (tid, "prices", start + timedelta(milliseconds=4), 3, "info"),
                (tid, "cart", start + timedelta(milliseconds=6), answer, "info"),
                (tid, "cart", start + timedelta(milliseconds=7), 5, "info")]
    baseline = [e for i in range(30) for e in request(f"b{i}", T0 - 20 * M + i * 20 * M / 30, 4)]
    window = [e for i in range(15) for e in request(f"w{i}", T0 + i * M / 3, 44)]   # cart reacts differently
    found = trace_change.compare(baseline, window)
    assert found["cart"].paths > 5 and found["prices"].paths == 0.0
    assert found["prices"].after > 5 and found["prices"].after_of == {"cart": 15}


def test_errors_that_name_a_calm_dependency_make_it_the_suspect():
    # the database logs nothing (its port refuses); the API's errors name it
    upstream = {"api": {"db"}, "web": {"api", "db"}}
    views = {"api": _failing(60), "web": _failing(20), "db": _steady(CALM, 60)}
    scope = _scope(views, upstream)
    scope.services["db"].named_by.add("api")
    scope.services["db"].onset = T0 + M                       # what the reference step sets
    assert root_cause.rank(scope)[0].service == "db"


def test_a_timeout_after_calls_to_several_callees_splits_its_suspicion():
    # a caller whose traces' first errors are timeouts after calling five callees: only the
    # callee that itself changed (its own lines) ranks first, not the four calm ones
    callees = [f"leaf-{i}" for i in range(5)]
    upstream = {"mid": set(callees)}
    views = {"mid": _failing(80), **{c: _steady(CALM, 60) for c in callees}}
    slow = _steady(CALM, 60)
    views["leaf-3"] = slow + [(8, "warning", 0, 5, "slow query took <DURATION>")]
    scope = _scope(views, upstream)
    for c in callees:
        scope.services[c].suspected_by.add("mid")
        scope.services[c].onset = T0 + M
    ranked = root_cause.rank(scope)
    assert ranked[0].service == "leaf-3", [(c.service, round(c.score, 3)) for c in ranked]


def _two_faults(signalled: dict[str, set[str]]) -> list[str]:
    views = {"db": _failing(60), "gpu": _failing(12), "api": _failing(30), "worker": _steady(CALM, 60)}
    scope = _scope(views, {"api": {"db", "gpu"}, "worker": {"db"}})
    scope.claimed = {"db": (1, {"db", "api"})}           # incident 1's report blames db
    scope.signalled = signalled
    return [c.service for c in root_cause.rank(scope)]


def test_a_root_cause_another_incident_holds_is_not_pinned_on_a_new_fault():
    # this incident's own signals: gpu, and the api both incidents share; db changed more,
    # but only through the shared api is it tied to this incident
    assert _two_faults({"gpu": {"gpu-host"}, "api": {"api-host"}})[0] == "gpu"
    # without the other incident's report, db's bigger change wins
    views = {"db": _failing(60), "gpu": _failing(12), "api": _failing(30)}
    assert root_cause.rank(_scope(views, {"api": {"db", "gpu"}}))[0].service == "db"
    # a signal of this incident's own on db's chain (worker depends on db): db stays a suspect
    assert _two_faults({"gpu": {"gpu-host"}, "worker": {"worker-host"}})[0] == "db"


def _request(tid: str, start: datetime, steps: list[tuple[str, int, str]]) -> list[tuple]:
    """One trace: (service, template, level) lines, 2 ms apart."""
    return [(tid, service, start + timedelta(milliseconds=2 * i), template, level)
            for i, (service, template, level) in enumerate(steps)]


def test_the_spectrum_names_the_service_the_failing_traces_share_not_the_hub_on_every_trace():
    """Every request passes the auth hub; half of them then go to orders, the rest to search;
    a lookup service is called before orders always and before search now and then. In the
    window orders fails (the gateway reports errors). The hub is on as many healthy traces
    as failing ones; the lookup is on every failing trace and few healthy ones, so it is
    enriched too, but orders explains those traces: it keeps nothing."""
    def steps(i: int, failing: bool):
        route = [("gateway", 1, "info"), ("auth", 2, "info")] + ([("lookup", 3, "info")] if i % 2 or i % 4 == 0 else [])
        if i % 2:
            return route + [("orders", 4, "info"), ("gateway", 6 if failing else 5, "error" if failing else "info")]
        return route + [("search", 7, "info"), ("gateway", 5, "info")]
    baseline = [e for i in range(40) for e in _request(f"b{i}", T0 - 30 * M + i * 30 * M / 40, steps(i, False))]
    window = [e for i in range(40) for e in _request(f"w{i}", T0 + i * 5 * M / 40, steps(i, True))]
    found = trace_spectrum.spectrum(baseline, window, {})
    assert found["orders"][0] > 5 and found["orders"][1:] == (20, 20)
    # the gateway (it logged the failing line) and auth and lookup (heard before the failure on
    # every failing trace) are on as many healthy traces: they keep nothing
    assert set(found) == {"orders"}


def test_the_spectrum_sees_slow_traces_without_any_error_line():
    def steps(i: int):
        return [("gateway", 1, "info"), ("cart", 2, "info"), ("prices" if i % 3 == 0 else "stock", 3, "info"),
                ("gateway", 4, "info")]
    baseline = [e for i in range(30) for e in _request(f"b{i}", T0 - 30 * M + i * M, steps(i))]
    window = []
    for i in range(30):
        trace = _request(f"w{i}", T0 + i * M / 6, steps(i))
        if i % 3 == 0:                     # prices answers 300 ms late: the gateway's last line waits
            trace[-1] = trace[-1][:2] + (trace[-1][2] + timedelta(milliseconds=300),) + trace[-1][3:]
        window += trace
    found = trace_spectrum.spectrum(baseline, window, {})
    assert set(found) == {"prices"} and found["prices"][1:] == (10, 10)


def test_a_verified_past_root_cause_is_a_clue_that_breaks_a_near_tie_and_names_no_calm_service():
    """Two services changed alike; a similar past incident's verified root cause was one of
    them: it goes first, with the reason said. A calm service verified in the past is not
    made a candidate by that alone."""
    views = {"billing": _failing(30), "ledger": _failing(30), "archive": _steady(CALM, 60)}
    scope = _scope(views, {})
    plain = root_cause.rank(scope)
    assert abs(plain[0].score - plain[1].score) < 1e-9        # a tie, broken by name
    clued = root_cause.rank(scope, past={"ledger": 0.04, "archive": 0.05})
    assert clued[0].service == "ledger" and clued[0].parts["past"] == 0.04
    assert any("similar past incident" in r for r in clued[0].reasons)
    archive = [c for c in clued if c.service == "archive"]
    assert not archive or "past" not in archive[0].parts


def test_a_step_never_seen_before_is_new_not_slower_than_the_others():
    """Short history: a request type the baseline never traced (its steps are long by nature)
    must not read as a slowdown of its services against every other step's pace; a step seen
    a few times that now takes far longer than each of those still does."""
    usual = [("gateway", 1, 2.0), ("orders", 2, 3.0)]
    baseline = [e for i in range(24) for e in _trace(f"b{i}", T0 - 10 * M + i * 20 * M / 60, usual)]
    baseline += [e for i in range(2) for e in _trace(f"r{i}", T0 - 2 * M + i * M / 2,
                                                     [("gateway", 1, 2.0), ("billing", 5, 3.0)])]
    window = [e for i in range(10) for e in _trace(f"w{i}", T0 + i * M / 10, usual)]
    window += [e for i in range(8) for e in _trace(f"n{i}", T0 + i * M / 10, [("gateway", 1, 2.0), ("reports", 4, 40.0)])]
    found = trace_change.slowed_transitions(baseline, window)
    assert "reports" not in found                       # new, not slow: its steps have no pace of their own
    window += [e for i in range(8) for e in _trace(f"s{i}", T0 + i * M / 10, [("gateway", 1, 2.0), ("billing", 5, 60.0)])]
    found = trace_change.slowed_transitions(baseline, window)
    assert "reports" not in found and found["billing"][0] > 1


NAMING_FLEET = """
hosts: {n1: {address: 10.9.0.1}, n2: {address: 10.9.0.2}}
services:
  rebook-service: {type: api, hosts: [n1], depends_on: [food-service, timetable-service]}
  gateway-edge: {type: api, hosts: [n2], depends_on: [rebook-service, food-service, timetable-service]}
  food-service: {type: api, hosts: [n2]}
  timetable-service: {type: api, hosts: [n1]}
  ledger-service: {type: api, hosts: [n1]}
"""


def _naming_scope(rising_text: str) -> tuple[Scope, object]:
    from ingest.inventory import parse
    from retrieval.enrich import ReferenceMatcher

    upstream = {"rebook-service": {"food-service", "timetable-service"},
                "gateway-edge": {"rebook-service", "food-service", "timetable-service"}}
    views = {name: _steady(CALM, 60) for name in ("food-service", "timetable-service", "ledger-service")}
    # the callers' mix changed: a warning that was rare is now frequent (no error line anywhere)
    views["rebook-service"] = _steady(CALM, 60) + [(50, "warning", 2, 30, rising_text)]
    views["gateway-edge"] = _steady(CALM, 60) + [(60, "info", 3, 40, "request routed to <*>")]
    scope = _scope(views, upstream)
    for name, rows in views.items():
        scope.services[name].templates = [{"template_id": r[0], "level": r[1], "count": r[3], "baseline": r[2],
                                           "template": r[4], "first": T0 + 2 * M} for r in rows]
    return scope, ReferenceMatcher(parse(NAMING_FLEET))


def test_changed_lines_of_any_level_that_name_a_calm_dependency_make_it_the_suspect():
    # a wrong return value: the callee logs as always, its caller retries "unexpected upstream
    # state" at warning level, the name in a field the templater made a variable
    scope, matcher = _naming_scope('{"msg": "unexpected upstream state, retrying", "upstream": "<STR>"}')
    from agents.references import blame_named_in_changes, naming_candidates

    assert root_cause.rank(scope)[0].service != "food-service"          # without the step: not the suspect
    lines = [{"message": f'{{"msg": "unexpected upstream state, retrying", "upstream": "food-service", "id": {i}}}',
              "host": "n1"} for i in range(3)]
    assert [t.template_id for t in naming_candidates(scope.services["rebook-service"])] == [50]
    blame_named_in_changes(scope, scope.services["rebook-service"], {50: lines}, matcher)
    assert scope.services["food-service"].named_by == {"rebook-service"}
    assert root_cause.rank(scope)[0].service == "food-service"


def test_a_name_in_a_variable_position_or_outside_the_dependencies_blames_nothing():
    scope, matcher = _naming_scope("request routed to <*>")
    routed = [{"message": f"request routed to {s}", "host": "n2"}
              for s in ("food-service", "rebook-service", "timetable-service")]
    from agents.references import blame_named_in_changes

    blame_named_in_changes(scope, scope.services["gateway-edge"], {60: routed}, matcher)
    stranger = [{"message": "unexpected upstream state from ledger-service", "host": "n1"}] * 3
    blame_named_in_changes(scope, scope.services["rebook-service"], {50: stranger}, matcher)
    assert all(not v.named_by for v in scope.services.values())        # a different name each time; no edge
    assert not scope.services["food-service"].anomalous
