"""How the golden cases under evals/cases were made (a developer tool; the runner and the
product never import it). `python -m evals.casegen` rewrites them deterministically."""
