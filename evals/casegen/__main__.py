"""Write evals/cases/case-NN/ from the scenarios: history first, then the fault."""
from __future__ import annotations

import json
import random
import shutil
from datetime import datetime, timedelta

import yaml

from evals.cases import CASES_DIR
from evals.casegen.fleet import Fleet, background
from evals.casegen.scenarios import SCENARIOS
from evals.casegen.triggered import TRIGGERED

WINDOW_MIN = 25


def main() -> None:
    shutil.rmtree(CASES_DIR, ignore_errors=True)
    for n, scenario in enumerate(SCENARIOS + TRIGGERED, 1):
        rng = random.Random(1000 + n)
        fault = datetime(2026, 1, 5, 8, 0) + timedelta(days=n, hours=rng.randrange(0, 10), minutes=rng.randrange(60))
        fleet = Fleet(fault - timedelta(minutes=scenario.history), fault, scenario.history + WINDOW_MIN, rng,
                      load=scenario.load)
        if scenario.background:
            background(fleet)
        scenario.build(fleet)
        folder = CASES_DIR / f"case-{n:02d}"
        folder.mkdir(parents=True)
        case = {"title": scenario.title, "tags": scenario.tags, "split": "dev" if n % 2 else "test",
                "window": {"start": fault.isoformat() + "Z",
                           "end": (fault + timedelta(minutes=WINDOW_MIN)).isoformat() + "Z"},
                "expect": scenario.expect}
        if scenario.trigger:
            trigger = {"at": (fault + timedelta(minutes=scenario.trigger["after"])).isoformat() + "Z"}
            if scenario.trigger.get("service"):
                trigger["service"] = scenario.trigger["service"]
            case["trigger"] = trigger
        (folder / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False))
        if scenario.inventory:
            (folder / "inventory.yaml").write_text(scenario.inventory.lstrip())
        with open(folder / "logs.jsonl", "w") as fh:
            for record in fleet.records():
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        print(f"{folder.name}: {len(fleet.records())} lines, {scenario.title}")


if __name__ == "__main__":
    main()
