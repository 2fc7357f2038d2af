"""With generic top-level package names, make sure they resolve to this repository."""
from __future__ import annotations

import importlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_top_level_packages_resolve_to_this_repo():
    for name in ("db", "ingest", "retrieval", "evals", "server"):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to(REPO), (name, module.__file__)


def test_no_sql_outside_db():
    """Every SQL statement lives in db/ (STYLE.md). Not ours, so not checked: the outsider
    generator (SQL there is PostgreSQL's log text) and the fault lab's own test software."""
    import re

    pattern = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE TABLE)\b .*\b(FROM|VALUES|SET|\()")
    others = (("evals", "outsider"), ("evals", "lab", "services"))
    offenders = []
    for path in REPO.glob("*/**/*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("db", "tests", ".venv") or rel.parts[0].startswith("."):
            continue
        if any(rel.parts[:len(o)] == o for o in others):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{rel}:{number}")
    assert offenders == []


def test_nothing_imports_the_server_module():
    """server.py is the top of the layers: assembly only, imported by nobody."""
    import ast

    offenders = []
    for path in REPO.glob("*/**/*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("tests", ".venv") or rel.parts[0].startswith("."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "server" or n.startswith("server.") for n in names):
                offenders.append(str(rel))
    assert offenders == []
