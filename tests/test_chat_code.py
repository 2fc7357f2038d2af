"""Issue 19: the chat answers "what is this exception and where in the code" from the
exception clusters (a real captured traceback, evals/exceptions/programs/ledger, ingested
over HTTP, its code indexed): the cluster, the event with the trace, and the function the
RCA blames (computed now, then the kept one), without an LLM; no stack trace: the errors."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from db import exception_reads
from ingest.code_index import index_checkout
from tests.test_chat_oncall import ask, real_ids

EXC = Path(__file__).resolve().parent.parent / "evals" / "exceptions"


def _shifted(records: list[dict], end: datetime) -> list[dict]:
    """The captured run moved so its last line was logged at `end` (order and gaps kept)."""
    stamps = [datetime.fromisoformat(r["timestamp"].rstrip("Z")) for r in records]
    offset = end - max(stamps)
    return [{**r, "timestamp": (t + offset).isoformat() + "Z"} for r, t in zip(records, stamps)]


def test_the_chat_names_the_exception_and_the_function_it_comes_from(client):
    state = client.app.state
    index_checkout(state.db, state.embedder, EXC / "programs" / "ledger", "ledger", "v1")
    now = datetime.utcnow()
    records = [json.loads(line) for line in (EXC / "captured" / "ledger.jsonl").read_text().splitlines()]
    plain = {"timestamp": (now - timedelta(minutes=1)).isoformat() + "Z", "host": "pay-1", "service": "payments",
             "level": "error", "message": "charge 8812 declined by the processor: insufficient funds"}
    done = {**records[0], "timestamp": (now - timedelta(minutes=4)).isoformat() + "Z", "message": "INFO ledger done"}
    sent = client.post("/ingest/logs", json={"logs": [*_shifted(records, now - timedelta(minutes=5)), done, plain]})
    assert sent.status_code == 200 and sent.json()["pending"] == 0, sent.text
    (cluster,) = exception_reads.list_clusters(state.db)

    route, answer = ask(client, "What is this exception on ledger and where in the code does it come from?")
    assert route == "exception"
    text = answer["markdown"]
    assert f"[event:{cluster['representative_event_id']}]" in text and cluster["exception_type"] in text
    assert "`Transfer.execute`" in text and "computed now" in text        # the RCA's pick, not the top frame
    assert answer["citations"] and real_ids(state.db, answer["citations"])
    assert client.get(f"/clusters/{cluster['id']}/rca").status_code == 200     # kept now: the chat reads it
    _route, kept = ask(client, "which function raised the traceback in ledger?")
    assert "`Transfer.execute`" in kept["markdown"] and "computed now" not in kept["markdown"]

    # errors without a stack trace (the ledger's trace is older than the window): said so, then the errors
    route, answer = ask(client, "any exceptions in the last 2 minutes?")
    assert route == "exception" and "No exception with a stack trace" in answer["markdown"]
    assert "declined by the processor" in answer["markdown"] and "InsufficientFunds" not in answer["markdown"]
    assert answer["citations"] and real_ids(state.db, answer["citations"])
