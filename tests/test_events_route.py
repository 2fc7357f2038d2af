"""GET /events/{id} (issue 24, 3): a cited event ([event:ID]) with its template and its
neighbours on the same host and on the same service, by timestamp, `context` bounded."""
from __future__ import annotations


def line(minute: int, second: int, host: str, service: str, message: str, level: str = "info") -> dict:
    return {"timestamp": f"2026-01-20T10:{minute:02d}:{second:02d}Z", "host": host, "service": service,
            "level": level, "message": message}


def test_event_with_template_and_neighbours_by_host_and_by_service(client, db):
    records = [line(0, s, "db-1", "mariadb", f"checkpoint {s} done") for s in (0, 10, 30, 40)]        # db-1/mariadb
    records += [line(0, s, "db-1", "cron", f"job {s} ran") for s in (15, 25, 35)]        # db-1, other service
    records += [line(0, s, "db-2", "mariadb", f"replica lag {s}s") for s in (5, 22, 41)]  # mariadb, other host
    records.append(line(0, 20, "db-1", "mariadb", "Connection to 10.0.0.18:3306 refused after 30s", "error"))
    records.append(line(0, 20, "db-1", "mariadb", "Connection to 10.0.0.19:3306 refused after 31s", "error"))
    assert client.post("/ingest/logs", json={"logs": records}).json()["accepted"] == len(records)
    ids = {m: i for i, m in db.fetchall("SELECT id, message FROM log_events")}
    cited = ids["Connection to 10.0.0.18:3306 refused after 30s"]
    twin = ids["Connection to 10.0.0.19:3306 refused after 31s"]      # same second: the id orders them

    found = client.get(f"/events/{cited}", params={"context": 2}).json()
    assert found["event"]["id"] == cited and found["context"] == 2
    assert found["template"]["id"] == found["event"]["template_id"]
    assert found["template"]["template"] == "Connection to <IP>:<NUM> refused after <DURATION>"
    host, service = found["neighbours"]["host"], found["neighbours"]["service"]
    earlier_twin = cited > twin
    expect_host_before = (["job 15 ran", "Connection to 10.0.0.19:3306 refused after 31s"] if earlier_twin
                          else ["checkpoint 10 done", "job 15 ran"])
    assert [e["message"] for e in host["before"]] == expect_host_before
    assert all(e["host"] == "db-1" for e in host["before"] + host["after"])
    assert len(host["after"]) == 2 and all(e["service"] == "mariadb" for e in service["before"] + service["after"])
    assert {e["host"] for e in service["before"] + service["after"]} == {"db-1", "db-2"}
    for part in (host, service):
        stamps = [(e["ts"], e["id"]) for e in part["before"]] + [(found["event"]["ts"], cited)] + \
                 [(e["ts"], e["id"]) for e in part["after"]]
        assert stamps == sorted(stamps) and cited not in [e["id"] for e in part["before"] + part["after"]]

    none = client.get(f"/events/{cited}", params={"context": 0}).json()["neighbours"]
    assert none == {"host": {"before": [], "after": []}, "service": {"before": [], "after": []}}


def test_unknown_and_out_of_range_ids(client):
    missing = client.get("/events/987654321")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found" and "987654321" in missing.json()["error"]["message"]
    assert client.get(f"/events/{2**64 - 1}").status_code == 404            # BIGINT UNSIGNED: the largest id
    for bad in ("0", str(2**64), "abc"):
        assert client.get(f"/events/{bad}").status_code == 422, bad
    assert client.get("/events/1", params={"context": 51}).status_code == 422
