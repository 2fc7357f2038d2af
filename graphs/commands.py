"""The CLI's commands: where each lives and what `devmesh --help` says of it (server.py's
LazyGroup imports a command's module only when it runs)."""
from __future__ import annotations

# name -> (where it lives, what --help says): a command's module is imported only when it
# runs, so `devmesh --help` and the light commands start at once (tests/test_cli.py checks
# that each line here is the command's own first docstring line)
COMMANDS = {
    "serve": ("server:serve", "Serve the HTTP API."),
    "migrate": ("db.cli:migrate", "Apply pending database migrations."),
    "services": ("db.cli:services", "Start, stop and inspect the local MariaDB and FalkorDB."),
    "import": ("ingest.cli:import_", "Import logs: files (JSON lines, journalctl -o json, syslog) or a Loki server."),
    "embed": ("ingest.cli:embed", "Embed templates that have no vector yet for the configured model (resumable)."),
    "parse": ("ingest.cli:parse", "Template stdin's lines: prints TEMPLATE_ID<TAB>TEMPLATE per line, no database."),
    "prune": ("ingest.cli:prune", "Delete old events and rollups in small chunks; drop templates nothing refers to."),
    "ship": ("server:ship", "Ship journald entries to a DevMesh server (`devmesh ship --help`)."),
    "load-inventory": ("retrieval.cli:load_inventory_cmd",
                      "Validate inventory.yaml, load it into FalkorDB and make it the one every server follows."),
    "infer-edges": ("retrieval.cli:infer_edges_cmd",
                   "Learn DEPENDS_ON edges from the window's logs into the graph (replaces inferred edges)."),
    "code": ("ingest.code_cli:code",
             "The code index: symbols of a service's checkout at a version, for stack frames and RCA."),
    "clusters": ("retrieval.clusters_cli:clusters",
                 "Exception clusters from the stack traces in the logs: list, show one, resolve one."),
    "rca": ("graphs.rca_cli:rca_cmd",
            "Where in the code exception cluster CLUSTER_ID most likely comes from (RCA JSON with --json)."),
    "runbooks": ("retrieval.cli:runbooks_cmd",
                 "Runbook documents: ingest a directory (Markdown, reStructuredText, text), list them."),
    "detect": ("graphs.cli:detect", "Run one detector cycle (the server runs one every DEVMESH_DETECT_INTERVAL_S)."),
    "investigate": ("graphs.cli:investigate_cmd",
                   "Investigate incident ID now (again), or open one with --at, and print the report."),
    "incidents": ("graphs.incidents_cli:incidents", "The latest incidents; show, ack, resolve or snooze one."),
    "event": ("graphs.cli:event_cmd", "Open a cited event ([event:ID]): its template and neighbours."),
    "postmortem": ("graphs.memory_cli:postmortem_cmd",
                   "Print incident ID's postmortem draft (Markdown) from the database: `> file.md`."),
    "chat": ("graphs.cli:chat_cmd", "Ask the running server; its work streams as it happens (route, tools, answer)."),
    "analyze": ("graphs.analysis_cli:analyze_cmd",
                "Analyse a window on the running server: ranked templates, then the structured extraction."),
    "eval": ("evals.cli:eval_cmd", "Replay golden incidents and score detection, root cause, impact and evidence."),
    "bench": ("evals.cli:bench", "Benchmarks; each prints one JSON object last."),
    "demo": ("evals.cli:demo",
            "Replay a golden case into a running server: history now, then the fault, time-compressed."),
    "lab": ("evals.lab.cli:lab", "Fault lab: record dev cases from real software with one injected fault each."),
    "local-llm": ("evals.cli:local_llm_cmd",
                 "The pinned small model for tests and evals (Qwen2.5-Coder-0.5B on llama.cpp's server)."),
}
