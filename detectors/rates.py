"""Rate detectors over per-minute rollups: error-rate spike (EWMA mean and variance,
k-sigma, minimum count) and silence (a service that normally talks went quiet)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from detectors.settings import DetectorSettings
from detectors.signals import Signal

MINUTE = timedelta(minutes=1)


def _t(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def in_learning(state: dict | None, minute: datetime, settings: DetectorSettings) -> bool:
    return state is None or minute < _t(state["first"]) + timedelta(minutes=settings.learning_minutes)


def process(series: dict[tuple[datetime, str], tuple[int, int]], states: dict[str, dict], start: datetime,
            end: datetime, live_from: datetime, settings: DetectorSettings) -> list[Signal]:
    """Walk minutes [start, end), updating each service's baselines; alert only on minutes
    >= live_from and for services past their learning period. `series`: (minute, service)
    -> (all events, error-or-worse events)."""
    signals: list[Signal] = []
    a = settings.ewma_alpha
    by_minute: dict[datetime, dict[str, tuple[int, int]]] = {}
    for (minute, service), value in series.items():
        by_minute.setdefault(minute, {})[service] = value
    minute = start
    while minute < end:
        current = by_minute.get(minute, {})
        for service in sorted(set(states) | set(current)):
            total, errors = current.get(service, (0, 0))
            st = states.get(service)
            if st is None:
                if total == 0:
                    continue
                st = states[service] = {"first": minute.isoformat(), "mean_err": 0.0, "var_err": 0.0,
                                        "mean_all": float(total), "last_active": minute.isoformat(),
                                        "rate_when_active": float(total)}
            if minute >= live_from and not in_learning(st, minute, settings):
                # errors scale with traffic: a busier minute expects more of them (never fewer)
                scale = max(1.0, total / st["mean_all"]) if st["mean_all"] > 0 else 1.0
                sigma = max(math.sqrt(st["var_err"] * scale), settings.spike_min_sigma)
                threshold = st["mean_err"] * scale + settings.spike_k * sigma
                if errors >= settings.spike_min_count and errors > threshold:
                    signals.append(Signal("error_spike", service, minute, "error",
                                          f"{errors} errors/min on {service}, baseline {st['mean_err']:.1f} "
                                          f"+/- {sigma:.1f}", detail={"errors": errors, "mean": st["mean_err"],
                                                                     "sigma": sigma, "threshold": threshold}))
                quiet = (minute - _t(st["last_active"])) / MINUTE
                # a service that is quiet for minutes as a habit (a cron job) is not silent after that long
                needed = max(settings.silence_minutes, 2 * st.get("max_gap", 0) + 1)
                if (total == 0 and quiet >= needed and st["rate_when_active"] >= settings.silence_min_rate
                        and not in_learning(st, minute - timedelta(minutes=needed), settings)):
                    signals.append(Signal("silence", service, minute, "warning",
                                          f"{service} has been silent for {int(quiet)} min (usually "
                                          f"{st['rate_when_active']:.1f} lines/min)",
                                          detail={"quiet_minutes": int(quiet), "usual_rate": st["rate_when_active"]}))
            diff = errors - st["mean_err"]
            st["mean_err"] += a * diff
            st["var_err"] = (1 - a) * (st["var_err"] + a * diff * diff)
            st["mean_all"] += a * (total - st["mean_all"])
            if total > 0:
                gap = int((minute - _t(st["last_active"])) / MINUTE) - 1
                habit = st.get("max_gap", 0)
                if habit < gap < max(settings.silence_minutes, 2 * habit + 1):
                    st["max_gap"] = gap                 # a longer habitual pause (one that was a silence is not learned)
                st["last_active"] = minute.isoformat()
                st["rate_when_active"] = st["mean_all"]
        minute += MINUTE
    return signals
