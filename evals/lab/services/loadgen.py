"""A bounded load generator: Poisson arrivals around a slowly wandering rate, capped in flight.

    python loadgen.py --host 127.0.1.1 --port 7180 --rate 15 --seed 3 [--duration 600]

Runs until SIGTERM (or --duration); prints a one-line summary every 10 s to stdout.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import signal
import threading
import time
from collections import Counter

MAX_IN_FLIGHT = 48


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.1.1")
    ap.add_argument("--port", type=int, default=7180)
    ap.add_argument("--rate", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=3600)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
    stats, lock = Counter(), threading.Lock()
    agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
              "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
              "shop-mobile/3.8.1 (Android 14)", "curl/7.88.1"]

    def one(method: str, path: str, body: bytes | None, agent: str) -> None:
        try:
            conn = http.client.HTTPConnection(args.host, args.port, timeout=8)
            conn.request(method, path, body=body, headers={"User-Agent": agent, "Content-Type": "application/json"})
            status = conn.getresponse().status
            conn.close()
            key = f"{status // 100}xx"
        except (OSError, http.client.HTTPException) as exc:
            key = type(exc).__name__
        finally:
            slots.release()
        with lock:
            stats[key] += 1

    t_start = last = time.monotonic()
    phase = rng.uniform(0, 2 * math.pi)
    while not stop.is_set() and time.monotonic() - t_start < args.duration:
        now = time.monotonic()
        rate = args.rate * (1 + 0.15 * math.sin(phase + (now - t_start) / 40)) * rng.uniform(0.9, 1.1)
        stop.wait(rng.expovariate(rate))
        r = rng.random()
        if r < 0.6:
            method, path, body = "GET", f"/api/products/{rng.randint(1, 40)}", None
        elif r < 0.8:
            method, path, body = "GET", f"/api/orders/{rng.randint(1, 300)}", None
        else:
            method, path = "POST", "/api/orders"
            body = json.dumps({"product_id": rng.randint(1, 40), "qty": rng.randint(1, 3)}).encode()
        if not slots.acquire(blocking=False):
            with lock:
                stats["skipped"] += 1
            continue
        threading.Thread(target=one, args=(method, path, body, rng.choice(agents)), daemon=True).start()
        if now - last >= 10:
            with lock:
                print(json.dumps({"t": round(now - t_start), **stats}), flush=True)
            last = now


if __name__ == "__main__":
    main()
