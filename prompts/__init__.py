"""Every prompt is a file here (`<name>.md.j2`, Jinja2 with StrictUndefined), loaded by name."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(_DIR)), undefined=StrictUndefined, autoescape=False,
                       keep_trailing_newline=True)


def render(name: str, **variables) -> str:
    return _env().get_template(f"{name}.md.j2").render(**variables)


def names() -> list[str]:
    return sorted(p.name[: -len(".md.j2")] for p in _DIR.glob("*.md.j2"))
