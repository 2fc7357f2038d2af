"""`devmesh bench ...`: every benchmark prints one JSON object last (see README)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click

from graphs.client import server_options


@click.group()
def bench():
    """Benchmarks; each prints one JSON object last."""


def _print(result: dict, as_json: bool) -> None:
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("cli")
@click.option("--json", "as_json", is_flag=True)
@click.option("--runs", default=5, show_default=True)
def bench_cli(as_json, runs):
    """Start time of the light commands (median of fresh processes) beside `python -c pass`."""
    from evals.bench_cli import run

    _print(run(runs), as_json)


@bench.command("bombs")
@click.option("--json", "as_json", is_flag=True)
@click.option("--rounds", default=3, show_default=True)
@click.pass_obj
def bench_bombs(settings, as_json, rounds):
    """Server memory before and after decompression bombs and unreadable bodies (target: +100 MB)."""
    from evals.bench_bombs import run

    _print(run(settings.db.resolved(settings.services)[0], rounds), as_json)


@bench.command("parse")
@click.option("--json", "as_json", is_flag=True)
@click.option("--truth", type=click.Choice(["corrected", "original", "loghub2"]), default="corrected")
def bench_parse(as_json, truth):
    from evals.templates import run

    _print(run(truth), as_json)


@bench.command("ingest")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lines", default=50000, show_default=True)
@click.option("--batch-size", default=1000, show_default=True)
@click.pass_obj
def bench_ingest(settings, as_json, lines, batch_size):
    from evals.bench_ingest import run

    result = run(settings.db.resolved(settings.services)[0], settings.ingest, lines, batch_size)
    _print(result, as_json)


@bench.command("search")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--queries", default=200, show_default=True)
@click.option("--ef-search", default=None, type=int, help="HNSW candidate list (default: DEVMESH_EMBED_SEARCH_EF)")
@click.pass_obj
def bench_search(settings, as_json, templates, queries, ef_search):
    from evals.bench_search import run

    result = run(settings.db.resolved(settings.services)[0], templates, queries,
                 ef_search=ef_search or settings.embed.search_ef)
    _print(result, as_json)


@bench.command("retrieve")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--services", default=200, show_default=True)
@click.option("--queries", default=100, show_default=True)
@click.pass_obj
def bench_retrieve(settings, as_json, templates, services, queries):
    from evals.bench_retrieve import run

    result = run(settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services),
                 templates, services, queries)
    _print(result, as_json)


@bench.command("runbooks")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--copies", default=25, show_default=True, help="copies of the directory's files, each its own runbook")
@click.option("--templates", default=50000, show_default=True, help="templates stored beside (the quoted ones first)")
@click.option("--queries", default=100, show_default=True)
@click.pass_obj
def bench_runbooks(settings, directory, as_json, copies, templates, queries):
    """Ingest and retrieval speed of a runbook directory (default: the repository's runbooks/)."""
    from evals.bench_runbooks import run
    from ingest.embedders import build_embedder

    result = run(settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services),
                 build_embedder(settings.embed), directory, copies, templates, queries)
    _print(result, as_json)


@bench.command("detect")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events-per-day", default=1_000_000, show_default=True)
@click.option("--services", default=200, show_default=True)
@click.pass_obj
def bench_detect(settings, as_json, events_per_day, services):
    from evals.bench_detect import run

    result = run(settings.db.resolved(settings.services)[0], events_per_day, services)
    _print(result, as_json)


@bench.command("investigate")
@click.option("--json", "as_json", is_flag=True)
@click.option("--runs", default=20, show_default=True)
@click.option("--services", default=0, show_default=True,
              help="N > 0: a fleet-wide incident over N services with traces instead of the 5-service cascade")
@click.pass_obj
def bench_investigate(settings, as_json, runs, services):
    from evals.bench_investigate import run, run_fleet

    url, graph_url = settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services)
    result = run_fleet(url, graph_url, services, runs) if services > 0 else run(url, graph_url, runs)
    _print(result, as_json)


@bench.command("analyze")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", default=300_000, show_default=True)
@click.option("--rounds", default=10, show_default=True)
@click.pass_obj
def bench_analyze(settings, as_json, events, rounds):
    """Window analysis and "what changed" latency over N events spread over a day (20 services)."""
    from evals.bench_analyze import run

    result = run(settings.db.resolved(settings.services)[0], events, rounds)
    _print(result, as_json)


@bench.command("chat")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", default=1_000_000, show_default=True)
@click.option("--rounds", default=10, show_default=True)
@click.pass_obj
def bench_chat(settings, as_json, events, rounds):
    from evals.bench_chat import run

    result = run(settings.db.resolved(settings.services)[0], events, rounds)
    _print(result, as_json)


@bench.command("ui")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", default=1_000_000, show_default=True)
@click.option("--rounds", default=10, show_default=True)
@click.pass_obj
def bench_ui(settings, as_json, events, rounds):
    """First paint of /ui and the overview's API calls with N events stored (headless Chromium)."""
    from evals.bench_ui import run

    result = run(settings.db.resolved(settings.services)[0], events, rounds)
    _print(result, as_json)


@bench.command("ship")
@click.option("--json", "as_json", is_flag=True)
@click.option("--entries", default=20000, show_default=True)
@click.option("--batch-size", default=50, show_default=True)
@click.pass_obj
def bench_ship(settings, as_json, entries, batch_size):
    from evals.bench_ship import run

    result = run(settings.db.resolved(settings.services)[0], entries, batch_size)
    _print(result, as_json)


def _table(summary: dict) -> str:
    rows = [f"{'case':<9} {'split':<5} {'exp':<4} {'inc':>3} {'det':<4} {'ttd_s':>6} {'rank':>4} {'naive':>5}  "
            "top candidates"]
    for r in summary["per_case"]:
        rows.append(f"{r['slug']:<9} {r['split']:<5} {'yes' if r['incident_expected'] else 'no':<4} {r['incidents']:>3} "
                    f"{'yes' if r['detected'] else '-':<4} {r['time_to_detect_s'] if r['time_to_detect_s'] is not None else '-':>6} "
                    f"{r['rank'] if r['rank'] else '-':>4} {r['naive_rank'] if r['naive_rank'] else '-':>5}  "
                    f"{', '.join(r['ranked'][:3])}{'  ERROR ' + r['error'] if r['error'] else ''}")
    keys = ("cases", "detection_recall", "false_incidents", "rca_at_1", "rca_at_3", "rca_at_5", "impact_precision",
            "impact_recall", "evidence_recall", "mean_time_to_detect_s", "investigation_ms_p50")
    rows.append("")
    rows += [f"{k:<24} {summary[k]}" for k in keys]
    rows += [f"{'naive ' + k:<24} {v}" for k, v in summary["naive"].items()]
    rows += [f"{'top-1 spread ' + k:<24} {v}" for k, v in summary["top1_spread"].items()]
    for title, key in (("split", "by_split"), ("tag", "by_tag")):
        rows += ["", f"{title:<16} {'cases':>5} {'@1':>6} {'@3':>6} {'naive@1':>8} {'naive@3':>8}"]
        rows += [f"{name:<16} {g['cases']:>5} {g['rca_at_1']:>6} {g['rca_at_3']:>6} {g['naive_rca_at_1']:>8} "
                 f"{g['naive_rca_at_3']:>8}" for name, g in summary[key].items()]
    rows += [f"{k:<24} {v}" for k, v in summary.get("llm", {}).items()]
    return "\n".join(rows)


@click.group("eval", invoke_without_command=True)
@click.option("--cases", "cases_dir", default=None, type=click.Path(file_okay=False), help="default: evals/cases")
@click.option("--case", "only", default=None, help="one case by its folder name")
@click.option("--split", type=click.Choice(["dev", "test"]), default=None, help="only the cases of one split")
@click.option("--jobs", default=2, show_default=True, help="cases replayed at once (worker processes; 1 with --llm)")
@click.option("--llm", type=click.Choice(["none", "ollama", "openai", "local"]), default="none", show_default=True,
              help="an LLM runs the investigation agents and writes each report's narrative (the ranking stays): "
                   "ollama/openai from DEVMESH_LLM_*, local = the pinned small model on llama.cpp (see README)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_cmd(ctx, cases_dir, only, split, jobs, llm, as_json):
    """Replay golden incidents and score detection, root cause, impact and evidence."""
    if ctx.invoked_subcommand:
        return
    from contextlib import nullcontext
    from pathlib import Path

    from agents.llm import UsageCounter, build_chat_model
    from evals import local_llm
    from evals.cases import CASES_DIR, discover
    from evals.runner import run

    settings = ctx.obj
    cases = discover(Path(cases_dir) if cases_dir else CASES_DIR, only, split)
    server = local_llm.serve() if llm == "local" else nullcontext(None)
    try:
        with server as url:
            llm_settings = local_llm.settings(url) if url else settings.llm.model_copy(update={"backend": llm})
            usage = UsageCounter() if llm != "none" else None
            model = build_chat_model(llm_settings, [usage]) if usage else None

            def progress(r):
                cost = f" llm={r.llm_usage} pick={r.llm_root_cause}" if r.llm_usage else ""
                click.echo(f"  {r.slug}: rank={r.rank} incidents={r.incidents}{cost}", err=True)
            summary = run(cases, settings.db.resolved(settings.services)[0],
                          settings.graph.resolved_url(settings.services), progress=None if as_json else progress,
                          llm=model, structured=llm_settings.structured, usage=usage, jobs=jobs)
    except local_llm.LocalModelUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary) if as_json else _table(summary))


@eval_cmd.command("templates")
@click.option("--json", "as_json", is_flag=True)
def eval_templates(as_json):
    """Template quality on Loghub-2k: GA, PA and lines/s per dataset, Drain3's beside it."""
    from evals.templates import run

    result = run("corrected")
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{'dataset':<10} {'GA':>6} {'PA':>6} {'lines/s':>9}   {'Drain3 GA':>9} {'PA':>6} {'lines/s':>9}")
    for name, row in {**result["datasets"], "average": result["average"]}.items():
        d, r = row["devmesh"], row["drain3"]
        click.echo(f"{name:<10} {d['ga']:>6.3f} {d['pa']:>6.3f} {d['lines_per_s']:>9.0f}   {r['ga']:>9.3f} "
                   f"{r['pa']:>6.3f} {r['lines_per_s']:>9.0f}")


@contextmanager
def chosen_llm(settings, llm: str):
    """The LLMSettings an eval's `--llm` names (`local`: the pinned small model, served for
    the run), or None for `none`; a local model that cannot be had is one line and exit 1."""
    from contextlib import nullcontext

    from evals import local_llm

    server = local_llm.serve() if llm == "local" else nullcontext(None)
    try:
        with server as url:
            yield None if llm == "none" else (
                local_llm.settings(url) if url else settings.llm.model_copy(update={"backend": llm}))
    except local_llm.LocalModelUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@eval_cmd.command("extraction")
@click.option("--split", type=click.Choice(["dev", "test"]), default=None, help="only the cases of one split")
@click.option("--llm", type=click.Choice(["none", "ollama", "openai", "local"]), default="none", show_default=True,
              help="an LLM writes the prose fields too (scored beside the deterministic path)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eval_extraction(settings, split, llm, as_json):
    """Structured extraction on the labeled windows (evals/extraction): each field and the weighted total."""
    from agents.llm import UsageCounter, build_chat_model
    from evals.extraction_score import discover, run

    cases = discover(split=split)
    with chosen_llm(settings, llm) as chosen:
        usage = UsageCounter() if chosen else None
        result = run(cases, build_chat_model(chosen, [usage]) if chosen else None, tuple(settings.llm.mask_patterns),
                     progress=lambda r: click.echo(f"  {r['slug']}: {r['severity']} {r['component']}" + (
                         f" llm={r['llm']['status']} {r['llm']['seconds']}s" if "llm" in r else ""), err=True),
                     usage=usage)
    if as_json:
        click.echo(json.dumps(result))
        return
    fields = ("total", "root_cause", "action", "severity", "summary", "component_f1", "signature")
    click.echo(f"{'split':<6} {'path':<14} {'cases':>5} " + " ".join(f"{f:>12}" for f in fields))
    for name, paths in result["splits"].items():
        for path, row in paths.items():
            if row.get("cases"):
                click.echo(f"{name:<6} {path:<14} {row['cases']:>5} " + " ".join(f"{row[f]:>12.3f}" for f in fields))
    if "llm_usage" in result:
        click.echo(f"llm: {result['llm_usage']} {result['llm_status']}")


@click.command()
@click.argument("slug", required=False)
@click.option("--speed", default=25.0, show_default=True, help="how much faster than real time the fault plays")
@server_options("DEVMESH_DEMO_TOKEN")
def demo(slug, speed, url, token):
    """Replay a golden case into a running server: history now, then the fault, time-compressed."""
    from evals.cases import discover
    from evals.demo import replay

    cases = [c for c in discover(only=slug) if c.incident]
    if not cases:
        raise click.ClickException(f"no fault case {slug!r} (see evals/cases)")
    replay(cases[0], url, speed, token, click.echo)


@click.group("local-llm")
def local_llm_cmd():
    """The pinned small model for tests and evals (Qwen2.5-Coder-0.5B on llama.cpp's server)."""


@local_llm_cmd.command("fetch")
def local_llm_fetch():
    """Fetch, join and verify the model (cached under ~/.cache/devmesh/llm)."""
    from evals import local_llm

    try:
        click.echo(local_llm.fetch())
    except local_llm.LocalModelUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@local_llm_cmd.command("serve")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="loopback port (default: a free one)")
@click.option("--command", default=None, envvar="DEVMESH_LOCAL_LLM_COMMAND", show_envvar=True,
              help="run this OpenAI-compatible server instead of the built-in llama.cpp one; {port} and {model} "
                   "are filled in, e.g. 'llama-server -m {model} --port {port} --host 127.0.0.1'")
def local_llm_serve(port, command):
    """Serve it on loopback until Ctrl-C or SIGTERM (which stop the model's server too)."""
    from evals import local_llm

    def announce(server):
        click.echo(f"DEVMESH_LLM_BACKEND=openai DEVMESH_LLM_URL={server.url} DEVMESH_LLM_MODEL={local_llm.MODEL_NAME} "
                   "DEVMESH_LLM_STRUCTURED=true")
        click.echo(f"model server pid {server.child.pid}; Ctrl-C or SIGTERM stops it", err=True)
    try:
        local_llm.serve_until_signalled(port, command, announce)
    except local_llm.LocalModelUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@eval_cmd.command("capture")
@click.argument("incident_id", type=click.IntRange(1))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--history", "history_minutes", default=240, show_default=True,
              help="minutes of history before the window to keep")
@click.pass_obj
def eval_capture(settings, incident_id, directory, history_minutes):
    """Write incident INCIDENT_ID, as a person judged it, as an eval case under DIRECTORY."""
    from pathlib import Path

    from db import inventory as inventory_sql
    from db.pool import Database
    from evals.capture import CaptureError, capture

    directory = Path(directory)
    db = Database(settings.db.resolved(settings.services)[0])
    try:
        current = inventory_sql.current(db)
        path = settings.topology.inventory
        inventory = current["body"] if current else (path.read_text() if path.exists() else None)
        target = capture(db, incident_id, directory, inventory, tuple(settings.llm.mask_patterns), history_minutes)
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(f"wrote {target}; replay it with `devmesh eval --cases {directory}`")


@eval_cmd.command("exceptions")
@click.option("--split", type=click.Choice(["dev", "test"]), default=None, help="only the cases of one split")
@click.option("--embedder", type=click.Choice(["hash", "configured"]), default="hash", show_default=True,
              help="the code vectors' embedder: the deterministic hashing one, or DEVMESH_EMBED_*'s")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eval_exceptions(settings, split, embedder, as_json):
    """Score the RCA on real exceptions with planted bugs (evals/exceptions) beside the top frame."""
    from evals.exceptions import score
    from ingest.embedders import build_embedder

    result = score.run(settings.db.resolved(settings.services)[0], split,
                       build_embedder(settings.embed) if embedder == "configured" else None)
    click.echo(json.dumps(result) if as_json else score.table(result))


@eval_cmd.command("chat")
@click.option("--split", type=click.Choice(["dev", "test"]), default=None, help="only the questions of one split")
@click.option("--llm", type=click.Choice(["none", "ollama", "openai", "local"]), default="none", show_default=True,
              help="an LLM answers what no route covers (the planner) and may add to the routes' answers")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eval_chat(settings, split, llm, as_json):
    """Chat answers over the golden cases (evals/chat): fact recall, forbidden claims, routes, citations."""
    from agents.llm import UsageCounter, build_chat_model
    from evals.chat.score import discover, run, table

    questions = discover(split=split)
    with chosen_llm(settings, llm) as chosen:
        usage = UsageCounter() if chosen else None
        model = build_chat_model(chosen, [usage]) if chosen else None
        result = run(questions, settings.db.resolved(settings.services)[0],
                     settings.graph.resolved_url(settings.services), model, bool(chosen and chosen.structured), usage,
                     progress=None if as_json else lambda r: click.echo(
                         f"  {r['case']} {r['route']}{'' if r['route_ok'] else '!=' + r['expected_route']} "
                         f"{r['found']}/{r['facts']} {r['q']}", err=True))
    click.echo(json.dumps(result) if as_json else table(result))
