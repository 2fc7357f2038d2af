"""`devmesh code index PATH --service S [--version V]` and `devmesh code versions`."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("code")
def code():
    """The code index: symbols of a service's checkout at a version, for stack frames and RCA."""


@code.command("index")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--service", required=True, help="the service whose logs this code writes")
@click.option("--version", default=None, help="what its log lines carry as meta version/commit (default: git HEAD)")
@click.pass_obj
def index_cmd(settings, path, service, version):
    """Parse PATH (Python, JavaScript) into symbols and embed them; only changed files are parsed."""
    from db.pool import Database
    from ingest.code_index import index_checkout
    from ingest.embedders import build_embedder

    db = Database(settings.db.resolved(settings.services)[0])
    try:
        result = index_checkout(db, build_embedder(settings.embed), path, service, version)
    finally:
        db.close()
    click.echo(json.dumps(result.as_dict()))


@code.command("versions")
@click.option("--service", default=None)
@click.pass_obj
def versions_cmd(settings, service):
    """The indexed versions, newest first."""
    from db import code_index
    from db.pool import Database

    db = Database(settings.db.resolved(settings.services)[0])
    try:
        for v in code_index.versions(db, service):
            click.echo(f"{v['service']:<24} {v['version']:<42} files={v['files']:<5} {v['indexed_at']}")
    finally:
        db.close()
