"""`devmesh rca CLUSTER [--version V] [--refresh] [--json]`: the RCA of an exception cluster,
computed from the database as the server computes it (and kept there, per cluster and
version); an LLM writes over the same candidates when DEVMESH_LLM_BACKEND names one."""
from __future__ import annotations

import json

import click


def render(rca: dict) -> str:
    root = rca["likely_root_cause"]
    lines = [f"{rca['exception']['type']}: {rca['exception']['message']}",
             f"service {rca['service']} at version {rca['version']}"
             + ("" if rca["version_exact"] else " (the logged version is not indexed: the newest stands in)"),
             "", f"likely root cause: {root['symbol']} in {root['file_path']} lines {root['line_range'][0]}-"
             f"{root['line_range'][1]} (confidence {root['confidence']}, written by {rca.get('written_by')})",
             f"  {root['reasoning']}", "", "candidates:"]
    lines += [f"  {c['rank']}. {c['symbol']} {c['file_path']}:{c['line_range'][0]}-{c['line_range'][1]} "
              f"score {c['score']}: {'; '.join(c['reasons'])}" for c in rca["candidates"]]
    if rca["involved_parameters"]:
        lines += ["", "parameters: " + ", ".join(f"{p['name']}={p['value']}" for p in rca["involved_parameters"][:12])]
    lines += ["", "fixes:"] + [f"  - {f}" for f in rca["fix_suggestions"]]
    lines += ["tests to add:"] + [f"  - {t}" for t in rca["tests_to_add"]]
    lines += [f"evidence: {', '.join(f'[event:{i}]' for i in rca['supporting_evidence'])}"]
    return "\n".join(lines)


@click.command("rca")
@click.argument("cluster_id", type=click.IntRange(1))
@click.option("--version", default=None, help="the version whose event to read (default: the newest event's)")
@click.option("--refresh", is_flag=True, help="compute it again instead of printing the kept one")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def rca_cmd(settings, cluster_id, version, refresh, as_json):
    """Where in the code exception cluster CLUSTER_ID most likely comes from (RCA JSON with --json)."""
    from agents.llm import build_chat_model
    from agents.rca_cluster import ClusterNotFound, cluster_rca
    from db.pool import Database
    from ingest.embedders import build_embedder

    db = Database(settings.db.resolved(settings.services)[0])
    try:
        rca = cluster_rca(db, build_embedder(settings.embed), cluster_id, version, build_chat_model(settings.llm),
                          tuple(settings.llm.mask_patterns), refresh, settings.llm.model)
    except ClusterNotFound as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(json.dumps(rca, default=str) if as_json else render(rca))
