"""Detector thresholds (environment: DEVMESH_DETECT_*). Every number the detectors use is here."""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class DetectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_DETECT_")

    interval_s: float = 60.0          # the server's cycle; 0 turns the loop off
    lease_s: float = 180.0            # the leading server's lease: another takes over this long after it stops
    learning_minutes: int = 60        # a new service is observed this long before it may alert
    bootstrap_minutes: int = 1440     # history read to seed baselines on the first cycle
    ewma_alpha: float = 0.05          # weight of the newest minute in the baselines
    spike_k: float = 4.0              # error spike: errors > mean + k * sigma ...
    spike_min_count: int = 10         # ... and at least this many errors in the minute
    spike_min_sigma: float = 1.0      # floor for sigma so a silent baseline is not infinitely sensitive
    silence_minutes: int = 10         # silence: no line for this long ...
    silence_min_rate: float = 2.0     # ... from a service whose baseline is at least this many lines/min
    cooldown_minutes: int = 30        # per (detector, service): one firing, then quiet this long
    merge_minutes: int = 20           # signals on graph-connected services within this join one incident
    merge_hops: int = 2               # "connected": on one dependency chain within this many hops (graph.causal)
    correlation_minutes: int = 10     # OOM on a host, then restarts on it within this long -> one signal
    habit_minutes: int = 60           # stopped: a template present in >= habit_share of these minutes ...
    habit_share: float = 0.95
    stopped_minutes: int = 5          # ... and absent this long, while its service still logs
    merge_any_minutes: int = 10       # one fault, one incident: any signal this soon after an opening joins it
    restart_grace_minutes: int = 3
    resolve_quiet_minutes: int = 60   # an incident whose signals stayed quiet this long is resolved; 0: never    # signals this close to a stop/start/upgrade wait; still there after -> go on
