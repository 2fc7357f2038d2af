"""Write evals/cases-outsider/<slug>/ deterministically: `python -m evals.outsider`.

`python -m evals.outsider --dev` writes a development split from the same generator with
other seeds (evals/cases-outsider-dev/oxd-NN of the mesh family and oxs-NN of the saas
family, `split: dev`): cases to tune on, so the test cases above stay untouched."""
from __future__ import annotations

import shutil
import sys

from evals.outsider import mesh, saas
from evals.outsider.common import ROOT, write_case

MESH_CASES = 30
SAAS_CASES = 12


DEV_ROOT = ROOT.parent / "cases-outsider-dev"
DEV_CASES = 24
DEV_SEED = 100
DEV_SAAS_CASES = 12
DEV_SAAS_SEED = 200


def dev() -> None:
    shutil.rmtree(DEV_ROOT, ignore_errors=True)
    DEV_ROOT.mkdir(parents=True)
    for prefix, family, cases, seed in (("oxd", mesh, DEV_CASES, DEV_SEED), ("oxs", saas, DEV_SAAS_CASES, DEV_SAAS_SEED)):
        used: dict = {}
        for k in range(1, cases + 1):
            case, recs, inv, meta = family.make_case(seed + k, used)
            case["split"] = "dev"
            size = write_case(f"{prefix}-{k:02d}", case, recs, inv, DEV_ROOT)
            print(f"{prefix}-{k:02d}", meta["fault"], case["tags"], f"{size / 1e6:.2f}MB", flush=True)


def main(argv: list[str]) -> None:
    if argv == ["--dev"]:
        return dev()
    only = set(argv)
    if not only:
        shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True, exist_ok=True)
    used: dict = {}
    used_saas: dict = {}
    for n in range(1, MESH_CASES + SAAS_CASES + 1):
        slug = f"ox-{n:02d}"
        if n <= MESH_CASES:
            case, recs, inv, meta = mesh.make_case(n, used)
        else:
            case, recs, inv, meta = saas.make_case(n, used_saas)
        if only and slug not in only:
            continue
        size = write_case(slug, case, recs, inv)
        print(slug, meta["family"], meta["fault"], meta["root"], case["tags"], f"{size / 1e6:.2f}MB", meta["lines"],
              "impacted", len(meta["impacted"]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
