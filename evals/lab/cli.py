"""`devmesh lab record`: the fault lab's CLI (a dev tool; see evals/README.md)."""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def lab():
    """Fault lab: record dev cases from real software with one injected fault each."""


@lab.command("record")
@click.option("--out", default="evals/cases-lab", show_default=True, type=click.Path(path_type=Path))
@click.option("--cases", "n_faults", default=1, show_default=True, help="fault cases to record")
@click.option("--controls", default=0, show_default=True, help="no-fault controls, mixed in")
@click.option("--seed", default=1, show_default=True)
@click.option("--first", default=1, show_default=True, help="number of the first slug (lab-NN)")
@click.option("--history-s", default="120:140", show_default=True, help="history length range, seconds")
@click.option("--fault-s", default="100:115", show_default=True, help="fault length range, seconds")
def record(out, n_faults, controls, seed, first, history_s, fault_s):
    """Run nginx, two APIs, a worker, redis and MariaDB under load; inject one seeded fault per case;
    write each case under OUT as it finishes (root, apt packages from `make lab-deps`)."""
    from evals.lab.record import record_all
    from evals.lab.stack import LabError

    try:
        done = record_all(out, n_faults, controls, seed, first, history=_range(history_s), fault=_range(fault_s),
                          say=lambda m: click.echo(m, err=True))
    except LabError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(done)} of {n_faults + controls} cases written under {out}")


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(":")
    return float(lo), float(hi or lo)
