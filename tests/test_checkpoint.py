"""The MariaDB checkpointer under a real LangGraph graph: state continues across saver
instances (a restart), history is ordered, pending writes survive, threads delete cleanly."""
from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from db.checkpoint import MariaDBSaver


class S(TypedDict):
    seen: Annotated[list[str], operator.add]


def graph(db, fail_at: str | None = None):
    def step(name):
        def node(state: S) -> dict:
            if name == fail_at:
                raise RuntimeError("the process died here")
            return {"seen": [name]}
        return node
    g = StateGraph(S)
    g.add_node("a", step("a"))
    g.add_node("b", step("b"))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(checkpointer=MariaDBSaver(db))


def test_state_continues_across_savers_and_history_is_ordered(db):
    config = {"configurable": {"thread_id": "t-1"}}
    assert graph(db).invoke({"seen": ["q1"]}, config)["seen"] == ["q1", "a", "b"]
    restarted = graph(db)                                       # a new saver: nothing held in memory
    assert restarted.invoke({"seen": ["q2"]}, config)["seen"] == ["q1", "a", "b", "q2", "a", "b"]
    history = list(restarted.get_state_history(config))
    assert [h.values.get("seen", []) for h in history][:2] == [["q1", "a", "b", "q2", "a", "b"],
                                                               ["q1", "a", "b", "q2", "a"]]
    assert history[0].parent_config["configurable"]["checkpoint_id"] == history[1].config["configurable"][
        "checkpoint_id"]
    assert graph(db).get_state({"configurable": {"thread_id": "t-2"}}).values == {}     # threads are separate


def test_a_run_that_fails_resumes_from_its_last_checkpoint(db):
    config = {"configurable": {"thread_id": "t-3"}}
    with pytest.raises(RuntimeError):
        graph(db, fail_at="b").invoke({"seen": ["q"]}, config)
    assert graph(db).get_state(config).next == ("b",)           # a's write was kept; b is still to run
    assert graph(db).invoke(None, config)["seen"] == ["q", "a", "b"]
    MariaDBSaver(db).delete_thread("t-3")
    assert db.fetchone("SELECT COUNT(*) FROM lg_checkpoints WHERE thread_id = 't-3'")[0] == 0
    assert db.fetchone("SELECT COUNT(*) FROM lg_writes WHERE thread_id = 't-3'")[0] == 0
