"""The server's lifespan: what it builds at start, in order, onto `app.state` (the MariaDB
pools and migrations, FalkorDB, the embedder, tracer and chat model, the Ingestor, the
embedding worker and runbook follower, the inventory and Kubernetes watches, graph
enrichment, the investigation pool, the detector loop, retention, template learning, the
syslog listener, the Prometheus gauges), and how it stops them at shutdown (the detector
lease given up, so another server leads at once). server.py's `create_app` builds it.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from agents.llm import LLMMetrics, build_chat_model
from agents.notify import Notifier
from agents.tracing import SpanHandler
from db import embeddings, stats
from db import incidents as incident_sql
from db.checkpoint import MariaDBSaver
from db.graph import Graph
from db.migrate import migrate as run_migrations
from db.pool import Database, DatabaseUnavailable
from db.tracing import build_provider as build_tracer_provider, tracer_of
from db.version import UnsupportedServer, server_info
from detectors.loop import detector_loop
from graphs.chat import build as build_chat_graph
from graphs.investigate import Context as InvestigationContext
from graphs.worker import InvestigationPool
from ingest.background import Periodic
from ingest.cluster_embedding import embed_clusters
from ingest.embedders import build_embedder
from ingest.embedding import EmbeddingWorker
from ingest.merging import MergeMap, TemplateLearner
from ingest.pipeline import Ingestor
from ingest.retention import prune as prune_old
from ingest.syslog import start as start_syslog
from ingest.telemetry import Metrics
from retrieval.enrich import refresh_now
from retrieval.kubernetes import KubeState
from retrieval.prometheus import from_settings as prometheus_from
from retrieval.runbook_templates import FOLLOW_INTERVAL_S, TemplateFollower
from retrieval.topology import TopologyState

log = logging.getLogger("devmesh")


def build_lifespan(settings, metrics: Metrics, version: str):
    """The FastAPI lifespan for `settings` (server.AppSettings), counting into `metrics`;
    `version` names the service in DevMesh's own traces."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rw_url, ro_url = settings.db.resolved(settings.services)
        app.state.settings = settings
        app.state.metrics = metrics
        timeouts = (settings.db.connect_timeout_s, settings.db.read_timeout_s)
        app.state.db = Database(rw_url, settings.db.pool_size, *timeouts)
        app.state.db_ro = Database(ro_url, max(2, settings.db.pool_size // 2), *timeouts)
        app.state.health_pool = ThreadPoolExecutor(2, thread_name_prefix="health")
        migrator = Database(rw_url, 1, settings.db.connect_timeout_s, 3600)   # an index build may take a while
        try:                                    # servers migrate at start (a named lock serialises them)
            applied = await run_in_threadpool(run_migrations, migrator)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        except DatabaseUnavailable as exc:
            log.warning("could not migrate at start (%s); run `devmesh migrate` once MariaDB is up", exc)
        except UnsupportedServer as exc:
            log.error("%s", exc)
        finally:
            migrator.close()
        app.state.mariadb = None                # {"version", "supported", "vector"}, read on first /health
        try:
            app.state.mariadb = await run_in_threadpool(server_info, app.state.db)
            log.info("MariaDB %s (VECTOR %s)", app.state.mariadb["version"],
                     "works" if app.state.mariadb["vector"] else "does NOT work")
        except DatabaseUnavailable:
            pass
        app.state.graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name,
                                settings.graph.timeout_ms)
        app.state.embedder = build_embedder(settings.embed)
        app.state.tracer_provider = build_tracer_provider(version=version)   # None unless OTEL_EXPORTER_OTLP_*
        app.state.tracer = tracer_of(app.state.tracer_provider)
        app.state.spans = SpanHandler(app.state.tracer) if app.state.tracer_provider is not None else None
        app.state.llm = build_chat_model(settings.llm, [LLMMetrics(metrics, settings.llm.model)]
                                         + ([app.state.spans] if app.state.spans else []))
        app.state.chat_graph = build_chat_graph(MariaDBSaver(app.state.db))
        app.state.ingestor = Ingestor(app.state.db, settings.ingest, merges=MergeMap(settings.learn.refresh_s),
                                      hold_traces=True)      # a trace may go on in the next request
        app.state.ingestor.tracer = app.state.tracer
        app.state.embed_worker = EmbeddingWorker(app.state.db, app.state.embedder, settings.embed)
        app.state.started = time.time()
        app.state.embed_worker.start()
        app.state.runbook_follower = TemplateFollower(app.state.db, app.state.graph)   # runbooks quoting them
        app.state.ingestor.on_new_templates = lambda ids: (app.state.embed_worker.enqueue(ids),
                                                           app.state.runbook_follower.enqueue(ids))
        app.state.runbook_links = Periodic("runbook-template-links", FOLLOW_INTERVAL_S, app.state.runbook_follower.run)
        app.state.runbook_links.start()
        app.state.topology = TopologyState(settings.topology.inventory, app.state.graph,
                                           lambda services: setattr(app.state.ingestor, "services", services),
                                           app.state.db)
        await run_in_threadpool(app.state.topology.start)
        app.state.inventory_watch = Periodic("inventory-follow", settings.topology.inventory_poll_s,
                                             app.state.topology.follow)
        app.state.inventory_watch.start()
        app.state.kube = KubeState(settings.k8s, app.state.graph, app.state.topology)   # off without a cluster
        if app.state.kube.enabled:
            await run_in_threadpool(app.state.kube.refresh)
        app.state.kube_watch = Periodic("kubernetes-topology", settings.k8s.refresh_s if app.state.kube.enabled else 0,
                                        app.state.kube.refresh)
        app.state.kube_watch.start()
        app.state.kube.start()                  # the watch on pods between the full reads
        app.state.enrichment = Periodic("graph-enrichment", settings.topology.infer_interval_s,
                                        lambda: refresh_now(app.state.db, app.state.graph, app.state.topology.inventory,
                                                            settings.topology.infer_window_s))
        app.state.enrichment.start()
        app.state.notifier = Notifier(settings.notify)
        app.state.investigations = InvestigationPool(
            InvestigationContext(app.state.db, app.state.graph, app.state.notifier,
                                 settings.investigate.baseline_minutes, lambda: app.state.topology.inventory,
                                 prometheus_from(settings.prometheus), settings.prometheus.max_services,
                                 app.state.llm, app.state.db_ro, settings.llm.structured, settings.llm.max_rounds,
                                 tuple(settings.llm.mask_patterns), embedder=app.state.embedder,
                                 tracer=app.state.tracer, spans=app.state.spans),
            settings.investigate)
        app.state.investigations.start()
        app.state.detectors = detector_loop(lambda now: _detect(app.state, settings, now), settings.detect.interval_s,
                                            lambda _opened: app.state.investigations.wake())
        app.state.investigations.on_done = metrics.investigation.observe
        metrics.gauges({
            "devmesh_templates": ("Templates known", lambda: stats.counts(app.state.db_ro)["templates"]),
            "devmesh_embedding_queue_depth": ("Templates waiting for a vector",
                                              lambda: app.state.embed_worker.status()["queue_depth"]),
            "devmesh_embedding_failures": ("Embedding failures since start",
                                           lambda: app.state.embed_worker.status()["failures"]),
            "devmesh_embedding_missing": ("Templates without a vector for the active model (the embedding lag)",
                                          lambda: embeddings.count_missing(app.state.db_ro,
                                                                           app.state.embed_worker.table())),
            "devmesh_incidents": ("Incidents by investigation status and lifecycle state", lambda: {
                (("status", s), ("state", st)): n for (s, st), n in incident_sql.by_status(app.state.db_ro).items()}),
            "devmesh_feedback_by_detector": ("Verdicts (each judged incident's latest) per detector that fired in it",
                                             lambda: _feedback_labels(app.state.db_ro, "by_detector", "detector")),
            "devmesh_feedback_by_rule": ("Verdicts (each judged incident's latest) per ranking rule that put its "
                                         "root cause first", lambda: _feedback_labels(app.state.db_ro, "by_rule",
                                                                                      "rule")),
            "devmesh_unmapped_records": ("Records whose service is not in the inventory",
                                         lambda: (app.state.ingestor.services.unmapped_summary()["records"]
                                                  if app.state.ingestor.services else 0)),
        })
        app.state.detectors.start()
        app.state.retention = Periodic("retention", settings.retention.interval_s,
                                       lambda: prune_old(app.state.db, settings.retention))
        app.state.retention.start()
        app.state.learner = Periodic("template-learning", settings.learn.interval_s,
                                     TemplateLearner(app.state.db, app.state.ingestor.merges).run)
        app.state.learner.start()
        app.state.trace_flush = Periodic("held-traces", 1.0, app.state.ingestor.flush_pending)   # ingest/multiline.py
        app.state.trace_flush.start()
        app.state.cluster_vectors = Periodic("cluster-embedding", settings.embed.sweep_interval_s,   # semantic fingerprints
                                             lambda: embed_clusters(app.state.db, app.state.embedder))
        app.state.cluster_vectors.start()
        app.state.syslog = await start_syslog(settings.syslog, app.state.ingestor, metrics)
        try:
            yield
        finally:
            if app.state.syslog is not None:
                await app.state.syslog.stop()
            app.state.learner.stop()
            app.state.trace_flush.stop()
            app.state.cluster_vectors.stop()
            try:
                app.state.ingestor.flush_pending(force=True)
            except Exception as exc:  # noqa: BLE001 - shutting down: say what stayed unwritten
                log.warning("held stack traces not written at shutdown: %s", exc)
            app.state.retention.stop()
            app.state.detectors.stop()
            await run_in_threadpool(_give_up_detector_lease, app.state.db)   # another server leads at once
            app.state.investigations.stop()
            app.state.enrichment.stop()
            app.state.inventory_watch.stop()
            app.state.kube_watch.stop()
            app.state.kube.close()
            app.state.embed_worker.stop()
            app.state.runbook_links.stop()
            app.state.db.close()
            app.state.db_ro.close()
            app.state.health_pool.shutdown(wait=False, cancel_futures=True)
            app.state.graph.close()
            if app.state.tracer_provider is not None:
                app.state.tracer_provider.shutdown()      # flushes the spans still queued

    return lifespan


def _feedback_labels(db, group: str, label: str) -> dict:
    from retrieval.similar import feedback_summary

    return {((label, name), ("verdict", verdict)): n for name, counts in feedback_summary(db)[group].items()
            for verdict, n in counts.items()}


def _give_up_detector_lease(db) -> None:
    from db import leases
    from detectors.cycle import LOCK

    try:
        with db.connection() as conn:
            leases.release_quietly(conn, LOCK)
    except Exception as exc:  # noqa: BLE001 - shutting down: the lease runs out by itself
        log.warning("detector lease not released at shutdown: %s", exc)


def _detect(state, settings, now: datetime):
    from detectors.cycle import run_cycle

    services = state.ingestor.services
    with state.metrics.cycle.time():
        try:                                  # the loop keeps the lease: this server leads while it renews
            result = run_cycle(state.db, state.graph, settings.detect, now, services.names() if services else None,
                               state.tracer, keep_lease=True)
        except Exception:
            state.metrics.cycles.labels("failed").inc()
            raise
    state.metrics.cycles.labels("ran" if result.ran else "skipped").inc()
    return result
