"""Source files into symbols, a pure function of (path, text): Python with `ast`, JavaScript
and TypeScript-free `.js`/`.mjs`/`.cjs` with the tree-sitter grammar (the `tree-sitter`
and `tree-sitter-javascript` packages). A symbol is a function, method or class with its
qualified name, 1-based inclusive line range, signature, docstring and the names it calls.

Nothing here reads the disk or the database: ingest/code_index.py walks a checkout and
stores what this returns.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript"}
MAX_CALLS = 64


@dataclass(frozen=True)
class Symbol:
    qualname: str
    kind: str                     # function | method | class
    start_line: int
    end_line: int
    signature: str
    docstring: str | None = None
    calls: tuple[str, ...] = field(default_factory=tuple)


def language_of(path: str) -> str | None:
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower()) if dot >= 0 else None


def parse(path: str, text: str) -> list[Symbol]:
    """The symbols of one file; a file that does not parse has none (never raises)."""
    lang = language_of(path)
    if lang == "python":
        return _python(text)
    if lang == "javascript":
        return _javascript(text)
    return []


# --------------------------------------------------------------------------- Python


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _call_name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


def _calls(node: ast.AST) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = _call_name(sub.func)
            if name and len(seen) < MAX_CALLS:
                seen.setdefault(name, None)
    return tuple(seen)


def _python(text: str) -> list[Symbol]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out: list[Symbol] = []

    def visit(body, prefix: str, in_class: bool):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{node.name}"
                asyn = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
                signature = f"{asyn}def {node.name}({ast.unparse(node.args)})"
                if node.returns is not None:
                    signature += f" -> {ast.unparse(node.returns)}"
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                out.append(Symbol(name, "method" if in_class else "function", start, node.end_lineno or node.lineno,
                                  signature[:1024], ast.get_docstring(node), _calls(node)))
                visit(node.body, f"{name}.<locals>.", False)
            elif isinstance(node, ast.ClassDef):
                name = f"{prefix}{node.name}"
                bases = ", ".join(ast.unparse(b) for b in node.bases)
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                out.append(Symbol(name, "class", start, node.end_lineno or node.lineno,
                                  f"class {node.name}({bases})"[:1024], ast.get_docstring(node), ()))
                visit(node.body, f"{name}.", True)

    visit(tree.body, "", False)
    return out


# --------------------------------------------------------------------------- JavaScript

_JS_PARSER = None


def _js_parser():
    global _JS_PARSER
    if _JS_PARSER is None:
        import tree_sitter_javascript
        from tree_sitter import Language, Parser

        _JS_PARSER = Parser(Language(tree_sitter_javascript.language()))
    return _JS_PARSER


def _js_calls(node, src: bytes) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    stack = [node]
    while stack and len(seen) < MAX_CALLS:
        n = stack.pop()
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None:
                seen.setdefault(src[fn.start_byte:fn.end_byte].decode("utf-8", "replace")[:200], None)
        stack.extend(reversed(n.children))
    return tuple(seen)


def _js_doc(node, src: bytes) -> str | None:
    prev = node.prev_named_sibling
    if prev is not None and prev.type == "comment" and prev.end_point[0] >= node.start_point[0] - 1:
        text = src[prev.start_byte:prev.end_byte].decode("utf-8", "replace")
        return text.strip("/* \n").replace("\n * ", "\n") or None
    return None


def _javascript(text: str) -> list[Symbol]:
    src = text.encode("utf-8", "replace")
    try:
        tree = _js_parser().parse(src)
    except Exception:             # a grammar that fails to load is no symbols, not a failed index
        return []
    out: list[Symbol] = []

    def symbol(node, name: str, kind: str, params, anchor):
        params_text = src[params.start_byte:params.end_byte].decode("utf-8", "replace") if params else "()"
        keyword = "class" if kind == "class" else "function"
        out.append(Symbol(name, kind, node.start_point[0] + 1, node.end_point[0] + 1,
                          f"{keyword} {name.rsplit('.', 1)[-1]}{params_text if kind != 'class' else ''}"[:1024],
                          _js_doc(anchor, src), () if kind == "class" else _js_calls(node, src)))

    def visit(node, prefix: str, in_class: bool):
        for child in node.named_children:
            kind = child.type
            anchor = child.parent if child.parent is not None and child.parent.type == "export_statement" else child
            if kind in ("function_declaration", "generator_function_declaration"):
                name = prefix + _name(child, src)
                symbol(child, name, "function", child.child_by_field_name("parameters"), anchor)
                visit(child.child_by_field_name("body") or child, f"{name}.", False)
            elif kind == "class_declaration":
                name = prefix + _name(child, src)
                symbol(child, name, "class", None, anchor)
                visit(child.child_by_field_name("body") or child, f"{name}.", True)
            elif kind == "method_definition":
                name = prefix + _name(child, src)
                symbol(child, name, "method", child.child_by_field_name("parameters"), child)
                visit(child.child_by_field_name("body") or child, f"{name}.", False)
            elif kind == "variable_declarator":
                value = child.child_by_field_name("value")
                if value is not None and value.type in ("arrow_function", "function_expression", "function"):
                    name = prefix + _name(child, src)
                    decl = child.parent if child.parent is not None else child
                    symbol(decl, name, "function", value.child_by_field_name("parameters"), decl)
                    visit(value.child_by_field_name("body") or value, f"{name}.", False)
            elif kind in ("export_statement", "lexical_declaration", "variable_declaration", "class_body",
                          "statement_block", "expression_statement"):
                visit(child, prefix, in_class)

    visit(tree.root_node, "", False)
    return out


def _name(node, src: bytes) -> str:
    n = node.child_by_field_name("name")
    return src[n.start_byte:n.end_byte].decode("utf-8", "replace") if n is not None else "<anonymous>"
