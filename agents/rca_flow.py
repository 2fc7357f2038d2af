"""Where a failing value came from, read from the failing statement of one Python frame.

A pure function of the symbol's source and the frame's line: does the statement raise on
purpose (a guard: the value came from the caller), only pass its parameters on (the caller
made the value), compute with locals or literal keys/indexes (this frame made it), or call
other in-app functions whose results it uses (they made it)? agents/rca.py turns these
facts into how much blame a frame keeps and how much it passes down the stack.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Facts:
    raises: bool = False            # the statement is a `raise`
    pass_through: bool = False      # a call whose arguments are only the function's parameters
    own_values: bool = False        # locals, or literals used as keys/indexes/arguments
    calls: tuple[str, ...] = field(default_factory=tuple)   # the last name of each call in the statement


def _function(tree: ast.AST) -> ast.AST | None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def _params(fn) -> set[str]:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return set(names)


def _locals(fn, params: set[str]) -> set[str]:
    assigned = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned.add(node.id)
        elif isinstance(node, (ast.comprehension,)):
            for t in ast.walk(node.target):
                if isinstance(t, ast.Name):
                    assigned.add(t.id)
    return assigned - params


def _statement(fn, line: int):
    best = None
    for node in ast.walk(fn):
        if isinstance(node, ast.stmt) and node is not fn and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or (node.end_lineno - node.lineno) <= (best.end_lineno - best.lineno):
                best = node
    return best


def _call_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _keyed_literal(stmt) -> bool:
    """A literal used as a subscript, a slice bound or a call argument (`s[:-1]`, `split(" ")[1]`)."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Subscript):
            for sub in ast.walk(node.slice):
                if isinstance(sub, ast.Constant) and sub.value is not None:
                    return True
        elif isinstance(node, ast.Call):
            for arg in list(node.args) + [k.value for k in node.keywords]:
                if isinstance(arg, ast.Constant) and arg.value is not None:
                    return True
    return False


def facts(symbol_source: str, start_line: int, line: int) -> Facts | None:
    """Facts about the statement at `line` (file numbering) of a function that starts at
    `start_line`; None when the source does not parse or the line is not in a function."""
    try:
        tree = ast.parse(textwrap.dedent(symbol_source))
    except (SyntaxError, ValueError):
        return None
    fn = _function(tree)
    if fn is None:
        return None
    stmt = _statement(fn, line - start_line + 1)
    if stmt is None:
        return None
    params = _params(fn)
    local = _locals(fn, params)
    if isinstance(stmt, (ast.If, ast.While)):          # the failing part of a compound statement is its head
        stmt = stmt.test
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        stmt = stmt.iter
    loads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    calls = tuple(dict.fromkeys(c for c in (_call_name(n.func) for n in ast.walk(stmt) if isinstance(n, ast.Call))
                                if c))
    if isinstance(stmt, ast.Raise):
        return Facts(raises=True, calls=calls)
    value = getattr(stmt, "value", None)
    passes = (isinstance(value, ast.Call) and not isinstance(stmt, ast.AugAssign)
              and all(_is_param(a, params) for a in list(value.args) + [k.value for k in value.keywords]))
    uses_locals = bool(loads & local)
    return Facts(pass_through=passes and not uses_locals, own_values=uses_locals or _keyed_literal(stmt), calls=calls)


def _is_param(node, params: set[str]) -> bool:
    while isinstance(node, (ast.Attribute, ast.Starred)):
        node = node.value
    return isinstance(node, ast.Name) and node.id in params
