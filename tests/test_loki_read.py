"""The read side of Loki's API over our events (what Grafana's Loki data source calls), in
Loki's documented response shapes, against the real MariaDB."""
from __future__ import annotations

import pytest

from retrieval.logql import LogQLError, parse

START = 1768903200                     # 2026-01-20T10:00:00Z


def _seed(client) -> None:
    logs = []
    for i in range(120):               # two minutes: api every second, db every 4 s
        logs.append({"timestamp": START + i, "host": "web-1", "service": "api",
                     "level": "error" if i % 10 == 0 else "info",
                     "message": f"GET /orders/{i} {'500 timeout' if i % 10 == 0 else '200'} in {i % 7} ms"})
        if i % 4 == 0:
            logs.append({"timestamp": START + i, "host": "db-1", "service": "mariadb", "level": "warning",
                         "source": "journald", "message": f"slow query {i} took 2 s"})
    assert client.post("/ingest/logs", json={"logs": logs}).json()["accepted"] == 150


def _range(client, query: str, **params):
    params = {"query": query, "start": str(START * 10**9), "end": str((START + 120) * 10**9), **params}
    return client.get("/loki/api/v1/query_range", params=params)


def test_log_query_with_selector_and_line_filters_in_loki_shape(client):
    _seed(client)
    r = _range(client, '{service="api", level=~"err.*"} |= "timeout" != "orders/110"', limit=5)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "streams"
    (stream,) = body["data"]["result"]
    assert stream["stream"] == {"host": "web-1", "service": "api", "level": "error", "source": ""}
    lines = [v[1] for v in stream["values"]]
    assert lines == [f"GET /orders/{i} 500 timeout in {i % 7} ms" for i in (100, 90, 80, 70, 60)]   # newest first
    assert stream["values"][0][0] == str((START + 100) * 10**9)
    forward = _range(client, '{service="api"} |~ "orders/1[0-9] "', direction="forward").json()["data"]["result"]
    assert [v[1].split()[1] for s in forward for v in s["values"]][:3] == ["/orders/10", "/orders/11", "/orders/12"]


def test_count_over_time_and_rate_by_label_as_a_matrix(client):
    _seed(client)
    r = _range(client, 'sum by (level) (count_over_time({service="api"}[1m]))', step="60")
    body = r.json()
    assert body["data"]["resultType"] == "matrix"
    series = {s["metric"]["level"]: s["values"] for s in body["data"]["result"]}
    # points at 10:00, 10:01, 10:02; a point counts the minute before it (t - 1m, t]
    assert series["error"] == [[START, "1"], [START + 60, "6"], [START + 120, "5"]]
    assert series["info"] == [[START + 60, "54"], [START + 120, "54"]]
    rate = _range(client, 'sum(rate({host="db-1"}[1m]))', step="60").json()["data"]["result"]
    assert rate == [{"metric": {}, "values": [[START, "0.016667"], [START + 60, "0.25"], [START + 120, "0.233333"]]}]
    instant = client.get("/loki/api/v1/query", params={
        "query": 'count_over_time({service="mariadb"}[2m])', "time": str((START + 120) * 10**9)}).json()
    assert instant["data"]["resultType"] == "vector"
    assert instant["data"]["result"][0]["value"] == [START + 120, "29"]      # (t - 2m, t]
    assert instant["data"]["result"][0]["metric"]["source"] == "journald"


def test_labels_values_and_series(client):
    _seed(client)
    window = {"start": str(START * 10**9), "end": str((START + 200) * 10**9)}
    assert client.get("/loki/api/v1/labels", params=window).json() == {
        "status": "success", "data": ["host", "level", "service", "source"]}
    values = client.get("/loki/api/v1/label/service/values", params=window).json()
    assert values == {"status": "success", "data": ["api", "mariadb"]}
    series = client.get("/loki/api/v1/series", params={**window, "match[]": '{service="api"}'}).json()["data"]
    assert sorted(s["level"] for s in series) == ["error", "info"]


@pytest.mark.parametrize("query, why", [
    ("", "empty"),
    ("{service=}", "quoted string"),
    ('{pod="x"}', "unknown label"),
    ('{service=~".*"}', "does not match the empty string"),
    ('{service="api"} | json', "line filters"),
    ('avg(count_over_time({service="api"}[1m]))', "not supported"),
    ('count_over_time({service="api"}[0s])', "positive duration"),
    ('{service=~"("}', "invalid regular expression"),
])
def test_bad_logql_is_a_400_with_the_reason_as_loki_answers(client, query, why):
    with pytest.raises(LogQLError, match=why):
        parse(query)
    r = _range(client, query)
    assert r.status_code == 400 and why in r.text and r.headers["content-type"].startswith("text/plain")


def test_bad_parameters_are_400s(client):
    assert _range(client, '{service="api"}', start="yesterday").status_code == 400
    assert _range(client, '{service="api"}', limit=0).status_code == 400
    assert _range(client, 'count_over_time({service="api"}[1m])', step="0.0001").status_code == 400


def test_patterns_are_our_templates_with_samples_per_step(client):
    _seed(client)
    r = client.get("/loki/api/v1/patterns", params={"query": '{service="api", level="error"}',
                                                    "start": str(START * 10**9), "end": str((START + 120) * 10**9),
                                                    "step": "60s"})
    assert r.status_code == 200
    (pattern,) = r.json()["data"]
    assert pattern["pattern"] == "GET <_> <_> timeout in <_>"
    assert pattern["samples"] == [[START, 6], [START + 60, 6]]
    assert client.get("/loki/api/v1/patterns", params={"query": '{service="api"} |= "x"'}).status_code == 400


def test_the_grafana_dashboard_asks_only_for_metrics_devmesh_exposes(client):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parent.parent / "grafana" / "devmesh-dashboard.json").read_text())
    client.get("/health")                                       # one request, so per-route series exist
    text = client.get("/metrics").text
    exposed = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)", text, re.M):      # declared even before a sample
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(kind, ("",))
        exposed |= {name + suffix for suffix in suffixes} | {name}
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\b(devmesh_[a-z_]+)", target["expr"])}
    assert asked
    optional = {"devmesh_syslog_messages"}                      # only with DEVMESH_SYSLOG_LISTEN
    assert asked - optional <= exposed, sorted(asked - optional - exposed)
