"""Fixtures: the real managed MariaDB and FalkorDB, an isolated database per test that
needs one (migrated once per worker, emptied between tests, dropped at the end), and an app
wired to it with the hashing embedder."""
from __future__ import annotations

import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from db import local
from db.local import MariaDBInstance
from db.migrate import migrate
from db.pool import Database
from db.scratch import Scratch
from db.settings import DBSettings, DBUrl, GraphSettings, ServicesSettings
from ingest.embedders import EmbedSettings
from ingest.pipeline import IngestSettings
from datetime import timedelta

from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.scenarios import CASCADE_T0
from graphs.worker import InvestigationSettings
from retrieval.topology import TopologySettings


@pytest.fixture(scope="session")
def services() -> ServicesSettings:
    """The project's local services, started if `make test` did not already."""
    settings = ServicesSettings()
    local.up(settings, manage_db=not DBSettings().url)
    return settings


@pytest.fixture(scope="session")
def base_urls(services) -> tuple[DBUrl, DBUrl]:
    return DBSettings().resolved(services)


def _create_database(rw: DBUrl) -> str:
    name = f"devmesh_t_{uuid.uuid4().hex[:10]}"
    admin = Database(rw)
    with admin.transaction() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    admin.close()
    return name


def _drop_database(rw: DBUrl, name: str) -> None:
    admin = Database(rw)
    with admin.transaction() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


# Creating and migrating a database takes ~0.3 s and ~400 tests want one: each worker keeps
# its databases (db.scratch.Scratch), emptied after a test and handed to the next; one whose
# schema a test changed, or that cannot be emptied, is dropped.
_SCRATCH: dict[DBUrl, Scratch] = {}


@contextmanager
def migrated_database(rw: DBUrl):
    """The name of a migrated database with nothing in it, this test's alone (its graph
    `devmesh_t_<name>` too, if the test makes one)."""
    from db.graph import Graph

    scratch = _SCRATCH.setdefault(rw, Scratch(rw, "t"))
    url = scratch.take()
    try:
        yield url.database
    finally:
        graph = Graph(GraphSettings().resolved_url(ServicesSettings()), f"devmesh_t_{url.database}")
        graph.drop()
        graph.close()
        scratch.give_back(url)


def pytest_sessionfinish(session):
    """This worker's spare databases are dropped when it ends."""
    for scratch in _SCRATCH.values():
        scratch.close()


@pytest.fixture
def db_urls(base_urls):
    """(read-write, read-only) URLs of a fresh, migrated database of its own."""
    rw, ro = base_urls
    with migrated_database(rw) as name:
        yield rw.with_database(name), ro.with_database(name)


@pytest.fixture
def db(db_urls):
    database = Database(db_urls[0])
    yield database
    database.close()


NO_INVENTORY = Path("/nonexistent/devmesh-inventory.yaml")


def make_settings(db_urls, inventory: Path | None = None, **overrides):
    """App settings on the test's database, a graph of its own (dropped by `client`), the
    hashing embedder, and no inventory unless the test gives one."""
    import server

    return server.AppSettings(
        db=DBSettings(url=str(db_urls[0]), ro_url=str(db_urls[1])),
        graph=overrides.pop("graph", GraphSettings(name=f"devmesh_t_{db_urls[0].database}")),
        embed=overrides.pop("embed", EmbedSettings(backend="hash", sweep_interval_s=0.2)),
        ingest=overrides.pop("ingest", IngestSettings()),
        topology=overrides.pop("topology", TopologySettings(inventory=inventory or NO_INVENTORY, infer_interval_s=0)),
        detect=overrides.pop("detect", DetectorSettings(interval_s=0)),
        investigate=overrides.pop("investigate", InvestigationSettings(workers=1, poll_s=0.1)),
        **overrides)


@pytest.fixture
def client(db_urls):
    import server

    app = server.create_app(make_settings(db_urls))
    with TestClient(app) as c:
        yield c
        app.state.graph.drop()


def record(i: int = 0, **fields) -> dict:
    """A valid wire record; `i` varies the timestamp and numbers so each is distinct."""
    base = {"timestamp": f"2026-01-20T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:06d}Z",
            "host": "db-1", "service": "mariadb",
            "message": f"Connection to 10.0.0.{i % 250}:3306 refused after {i % 90}s", "level": "error"}
    base.update(fields)
    return base


@pytest.fixture
def graph(services):
    """A FalkorDB graph of its own, dropped afterwards."""
    from db.graph import Graph
    from db.settings import GraphSettings as GS

    handle = Graph(GS().resolved_url(services), f"devmesh_t_{uuid.uuid4().hex[:10]}")
    yield handle
    handle.drop()
    handle.close()


@pytest.fixture(scope="session")
def local_llm():
    """LLMSettings for a real small model (Qwen2.5-Coder-0.5B, llama.cpp server on loopback,
    temperature 0, seed 7) for tests marked `local_llm`; skipped, with the reason printed,
    where the model cannot be had. DEVMESH_LOCAL_LLM=0 turns them off."""
    import os

    from evals import local_llm as local

    if os.environ.get("DEVMESH_LOCAL_LLM", "1") == "0":
        pytest.skip("DEVMESH_LOCAL_LLM=0: the real-model tests are off")
    try:
        server = local.serve()
        url = server.__enter__()
    except local.LocalModelUnavailable as exc:
        pytest.skip(f"the local model cannot be had here: {exc}")
    # free-text replies cut at 128 tokens: the tests check structure, and a 0.5B model that
    # rambles to the default 1024 costs about a minute a reply on 2 CPU threads
    yield local.settings(url, max_tokens=128)
    server.__exit__(None, None, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def instance(services, tmp_path):
    """A throwaway mariadbd of the test's own (the managed binary, its own data dir and port),
    migrated, to stop and start without disturbing other tests: (instance, url)."""
    if DBSettings().url:
        pytest.skip("DEVMESH_DB_URL points at an external MariaDB; no local binary to run a second one")
    inst = MariaDBInstance(tmp_path / "mariadb", _free_port(), services.cache_dir, services.mariadbd)
    inst.start()
    creds = {"app_user": "devmesh", "app_password": "pw-outage", "ro_user": "devmesh_ro", "ro_password": "pw-ro"}
    inst.provision(creds)
    url = DBUrl("devmesh", "pw-outage", "127.0.0.1", inst.port, "devmesh")
    db = Database(url)
    migrate(db)
    db.close()
    yield inst, url
    inst.stop()


def replay_cascade_cycles(db, graph, names, until_minute: int = 16) -> list[int]:
    """The detector cycle each minute over the cascade scenario (evals.scenarios), as the
    server's loop runs it: the incidents it opened."""
    settings = DetectorSettings()
    opened = []
    for minute in range(-1, until_minute):
        opened += run_cycle(db, graph, settings, CASCADE_T0 + timedelta(minutes=minute), names).opened
    return opened


# the longest files first, so two xdist workers (`make test`) end together rather than one
# finishing the real-model tests alone at the end (longest-processing-time-first)
LONGEST_FIRST = ("test_local_llm.py", "test_evals.py", "test_fuzz.py", "test_galera.py", "test_shipper.py")


def pytest_collection_modifyitems(items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
