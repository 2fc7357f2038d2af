"""Which Kubernetes workload a log record came from, by the k8s labels it carries.

A record's `meta` holds what its sender said: Loki push stream labels (`meta.labels`:
`namespace`, `pod`, `container`, `app`, and the `k8s_*_name` names OpenTelemetry's Loki
exporter and Alloy write) or OTLP resource attributes (`meta.resource`: `k8s.namespace.name`,
`k8s.pod.name`, `k8s.deployment.name`, `k8s.statefulset.name`, `k8s.daemonset.name`, ...).
`KubeIndex` (built from the cluster by retrieval/kube_topology.py) turns that into the
service name the graph uses: the pod first (it names its workload exactly), then the named
workload, then the `app` label, then the workload the pod's generated name implies (a pod
newer than the last read: `web-7f9c6b5d4-h8k2r` is Deployment `web`'s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAMESPACE = ("k8s.namespace.name", "namespace", "k8s_namespace_name", "namespace_name", "kubernetes_namespace_name")
_POD = ("k8s.pod.name", "pod", "k8s_pod_name", "pod_name", "kubernetes_pod_name")
_WORKLOAD = ("k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name", "k8s.replicaset.name",
             "k8s.job.name", "k8s.cronjob.name", "k8s_deployment_name", "k8s_statefulset_name",
             "k8s_daemonset_name", "deployment", "statefulset", "daemonset")
_APP = ("app.kubernetes.io/name", "app_kubernetes_io_name", "app", "k8s-app", "k8s_app")


@dataclass(frozen=True)
class KubeRef:
    namespace: str | None
    pod: str | None
    workloads: tuple[str, ...]
    app: str | None


def _first(sources: list[dict], keys: tuple[str, ...]) -> str | None:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def k8s_ref(meta: dict | None) -> KubeRef | None:
    """The k8s identity in a record's meta, or None when it carries none."""
    if not meta:
        return None
    sources = [s for s in (meta.get("resource"), meta.get("labels"), meta.get("attributes")) if isinstance(s, dict)]
    if not sources:
        return None
    pod = _first(sources, _POD)
    workloads = tuple(dict.fromkeys(v for s in sources for k in _WORKLOAD if isinstance(v := s.get(k), str) and v))
    namespace = _first(sources, _NAMESPACE)
    if not (pod or workloads or namespace):
        return None
    return KubeRef(namespace, pod, workloads, _first(sources, _APP))


_GENERATED = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{5}$")     # the apiserver's generateName suffix
_TEMPLATE_HASH = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}$")  # a ReplicaSet's pod-template-hash
_ORDINAL = re.compile(r"-\d+$")                                     # a StatefulSet pod's ordinal


def _pod_owners(pod: str | None) -> tuple[str, ...]:
    """The workload names a pod's name implies, nearest first: `web-7f9c6b5d4-h8k2r` ->
    (`web-7f9c6b5d4`, `web`); `fluent-bit-7xk2p` -> (`fluent-bit`); `postgres-0` -> (`postgres`).
    For a pod newer than the last read of the cluster that carries no workload label."""
    if not pod:
        return ()
    out = []
    if _ORDINAL.search(pod):
        out.append(_ORDINAL.sub("", pod))
    if _GENERATED.search(pod):
        replicaset = _GENERATED.sub("", pod)
        out.append(replicaset)
        if _TEMPLATE_HASH.search(replicaset):
            out.append(_TEMPLATE_HASH.sub("", replicaset))
    return tuple(name for name in out if name)


@dataclass
class KubeIndex:
    """What the cluster says each pod and workload is called in the graph."""

    pods: dict[tuple[str, str], str] = field(default_factory=dict)        # (namespace, pod) -> service
    workloads: dict[tuple[str, str], str] = field(default_factory=dict)   # (namespace, workload or Service) -> service
    names: dict[str, str] = field(default_factory=dict)                  # lower-case unambiguous name -> service

    def resolve(self, ref: KubeRef) -> str | None:
        namespace = ref.namespace or ""
        if ref.pod and (namespace, ref.pod) in self.pods:
            return self.pods[(namespace, ref.pod)]
        for name in (*ref.workloads, ref.app, *_pod_owners(ref.pod)):
            if name and (namespace, name) in self.workloads:
                return self.workloads[(namespace, name)]
        if ref.namespace is None:
            for name in (*ref.workloads, ref.app):
                if name and name.lower() in self.names:
                    return self.names[name.lower()]
        return None
