"""Stack traces read from an event's text (pure, no I/O): the exceptions of a chain with their
frames (file, function, line, module, in-app or library) and the static fingerprint that
groups the same bug, as Sentry's grouping does: the exception types plus the in-app frames'
module and function (all frames when none is in-app), never line numbers or messages.

Shapes read, as the runtimes print them: Python (`Traceback (most recent call last):`,
`  File "f.py", line 3, in g`, chained with "During handling ..." / "The above exception
..."), Java/Kotlin (`\\tat a.b.C.m(C.java:12)`, `Caused by:`, `... N more`), Go (`panic:`,
`goroutine N [running]:`, `main.f(...)` + `\\t/path/f.go:12 +0x1d`), Node (`    at f
(file.js:1:2)`) and .NET (`   at NS.C.M() in file.cs:line 12`). Frames are kept innermost
first (where the exception was raised is position 0), whatever order the runtime prints.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAX_FRAMES = 200                      # per section; the event's text keeps every line anyway

_PY_HEADER = re.compile(r"^\s*(?:\+ Exception Group )?Traceback \(most recent call last\):\s*$")
_PY_GROUP_BAR = re.compile(r"^\s*\| ?")                     # an exception group's nested lines: "  |   File ..."
_PY_GROUP_RULE = re.compile(r"^\s*\+(?:-+\+?)?-+(?: \d+ -+| \.\.\. -+)?\s*$")
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_PY_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
_JAVA_FRAME = re.compile(r"^\s+at (?:[\w.$-]+(?:@[\w.-]+)?/)?(?P<cls>[\w$.<>\[\]]+)\.(?P<func>[\w$<>\[\]-]+)"
                         r"\((?P<where>(?P<file>[^():]+?)(?::(?P<line>\d+))?|Native Method|Unknown Source)\)\s*$")
_DOTNET_FRAME = re.compile(r"^\s+at (?P<cls>[\w.`<>\[\]+,]+)\.(?P<func>[\w`<>\[\]|]+)\((?P<args>[^)]*)\)"
                           r"(?: in (?P<file>.+?):line (?P<line>\d+))?\s*$")
_NODE_FRAME = re.compile(r"^\s+at (?:(?P<func>.+?) \()?(?P<file>(?:file://|node:)?[^()\s]+?):(?P<line>\d+):\d+\)?\s*$")
_JVM_HEADER = re.compile(r'^(?:Exception in thread "[^"]*" |Unhandled exception\. )?(?:Caused by: |\s*Suppressed: )?'
                         r"(?P<type>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?::\s?(?P<msg>.*))?$")
_DOTNET_INNER = re.compile(r"\s*---> (?P<type>[\w.`]+)(?::\s?(?P<msg>.*))?$")
_GO_PANIC = re.compile(r"^(?P<kind>panic|fatal error): (?P<msg>.*)$")
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:\s*$")
_GO_FUNC = re.compile(r"^(?P<func>(?:created by )?[\w./*()\[\]~-]+?)(?:\(.*\))?(?: in goroutine \d+)?\s*$")
_GO_FILE = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?\s*$")
_GENERATED_DIGITS = re.compile(r"(?<=[$_<>a-z])\d+")

LIBRARY_PATHS = ("/site-packages/", "/dist-packages/", "/node_modules/", "/vendor/", "/pkg/mod/", "<frozen ",
                 "node:", "internal/", "/usr/local/go/src/", "/usr/lib/go/src/", "/go/src/runtime/",
                 "/lib/python2", "/usr/lib/python3", "/usr/local/lib/python3", "/lib/python3.")
LIBRARY_MODULES = ("java.", "javax.", "sun.", "jdk.", "com.sun.", "kotlin.", "kotlinx.", "scala.",
                   "System.", "Microsoft.", "runtime.", "runtime/", "reflect.", "net/http.", "testing.")


@dataclass(frozen=True)
class InAppRules:
    """Which frames are the service's own. `in_app` / `not_in_app`: substrings of a frame's
    file or prefixes of its module that force it either way (a service's own rules first);
    the defaults above mark the standard libraries, JDK, Go runtime and vendored code."""

    in_app: tuple[str, ...] = ()
    not_in_app: tuple[str, ...] = ()

    def is_in_app(self, file: str, module: str) -> bool:
        for pattern in self.in_app:
            if pattern in file or module.startswith(pattern):
                return True
        for pattern in self.not_in_app:
            if pattern in file or module.startswith(pattern):
                return False
        if any(p in file for p in LIBRARY_PATHS) or file.startswith("<"):
            return False
        return not module.startswith(LIBRARY_MODULES)


DEFAULT_RULES = InAppRules()


@dataclass(frozen=True)
class Frame:
    file: str
    function: str
    line: int | None
    module: str
    in_app: bool

    def as_dict(self) -> dict:
        return {"file": self.file, "function": self.function, "line": self.line, "module": self.module,
                "in_app": self.in_app}


@dataclass(frozen=True)
class Section:
    """One exception of a chain: its type, message and frames (innermost first)."""

    type: str
    message: str
    frames: tuple[Frame, ...] = ()


@dataclass(frozen=True)
class ParsedException:
    language: str                         # python | jvm | go | node | dotnet
    sections: tuple[Section, ...]         # as printed
    primary: int                          # the exception the program reported (Python: last; others: first)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def type(self) -> str:
        return self.sections[self.primary].type

    @property
    def message(self) -> str:
        return self.sections[self.primary].message

    @property
    def frames(self) -> tuple[Frame, ...]:
        """The reported exception's frames, innermost first."""
        return self.sections[self.primary].frames

    @property
    def headline(self) -> str:
        if self.language == "go":                           # as Go prints it: "panic: runtime error: ..."
            signal = f" {self.extra['signal']}" if self.extra.get("signal") else ""     # [signal SIGSEGV: ...]
            return f"{self.extra.get('kind', 'panic')}: {self.message}{signal}"
        return f"{self.type}: {self.message}" if self.message else self.type

    def fingerprint(self) -> str:
        return fingerprint(self)


def fingerprint(parsed: ParsedException) -> str:
    """Hex BLAKE2b-128 of each section's type and in-app frames' (module or file, function);
    every frame when no frame of the chain is in-app. Lines and messages never count."""
    any_in_app = any(f.in_app for s in parsed.sections for f in s.frames)
    parts = []
    for s in parsed.sections:
        frames = [f for f in s.frames if f.in_app or not any_in_app]
        parts.append(s.type + "\x1f" + "\x1e".join(f"{f.module or _file_key(f.file)}\x1f{_norm_function(f.function)}"
                                                    for f in frames))
    return hashlib.blake2b("\x1d".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def _norm_function(name: str) -> str:
    """Generated names drop their counters: lambda$run$0, Foo$1, func1, <Main>b__0_0."""
    if any(c in name for c in "$<>") or re.search(r"func\d+$", name):
        return _GENERATED_DIGITS.sub("", name)
    return name


def _file_key(path: str) -> str:
    """A file's last two path components, extension dropped: deploy roots do not split clusters."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    return "/".join(parts[-2:]).rsplit(".", 1)[0] if parts else path


def _py_module(path: str) -> str:
    norm = path.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            return norm.split(marker, 1)[1].rsplit(".", 1)[0].replace("/", ".")
    return _file_key(norm).replace("/", ".")


def summary_line(text: str) -> str:
    """The line that names a joined trace that did not parse: a Python traceback's exception
    line (its last unindented line), else the first line."""
    lines = text.split("\n")
    if _PY_HEADER.match(lines[0]):
        for line in reversed(lines[1:]):
            if line.strip() and not line[:1].isspace() and _PY_EXC.match(line.strip()):
                return line
    return lines[0]


def parse(text: str, rules: InAppRules = DEFAULT_RULES) -> ParsedException | None:
    """The exception chain in `text`, or None when it holds no stack trace with frames."""
    if not text or "\n" not in text:
        return None
    lines = text.splitlines()
    for reader in (_python, _go, _at_frames):
        found = reader(lines, rules)
        if found is not None:
            return found
    return None


def _python(lines: list[str], rules: InAppRules) -> ParsedException | None:
    sections: list[Section] = []
    frames: list[Frame] | None = None
    group = bool(lines) and "Exception Group Traceback" in lines[0]
    for line in lines:
        if group:                                      # Python 3.11 exception groups: unwrap the bars
            if _PY_GROUP_RULE.match(line):
                continue
            line = _PY_GROUP_BAR.sub("", line, count=1)
        if _PY_HEADER.match(line):
            frames = []
            continue
        if frames is None:
            continue
        m = _PY_FRAME.match(line)
        if m:
            file, func = m.group("file"), m.group("func") or "<module>"
            module = _py_module(file)
            if len(frames) < MAX_FRAMES:
                frames.append(Frame(file, func, int(m.group("line")), module, rules.is_in_app(file, module)))
            continue
        if line[:1].isspace() or not line.strip():
            continue
        e = _PY_EXC.match(line.strip())
        if e and frames:
            sections.append(Section(e.group("type"), (e.group("msg") or "").strip(), tuple(reversed(frames))))
            frames = None
    if not sections:
        return None
    return ParsedException("python", tuple(sections), 0 if group else len(sections) - 1)


def _go(lines: list[str], rules: InAppRules) -> ParsedException | None:
    panic = next((m for m in map(_GO_PANIC.match, lines) if m), None)
    start = next((i for i, line in enumerate(lines) if _GO_GOROUTINE.match(line)), None)
    if start is None:
        return None
    frames: list[Frame] = []
    func: str | None = None
    for line in lines[start + 1:]:
        if not line.strip():
            break                                       # the panicking goroutine ends at a blank line
        f = _GO_FILE.match(line)
        if f and func is not None:
            name = func.removeprefix("created by ")
            package = name.rsplit("/", 1)
            module = (package[0] + "/" if len(package) == 2 else "") + package[-1].split(".", 1)[0]
            file = f.group("file")
            if len(frames) < MAX_FRAMES:
                frames.append(Frame(file, name, int(f.group("line")), module, rules.is_in_app(file, name)))
            func = None
            continue
        g = _GO_FUNC.match(line)
        func = g.group("func") if g else None
    if not frames:
        return None
    kind, message = (panic.group("kind"), panic.group("msg").strip()) if panic else ("panic", "")
    exc_type = kind
    if message.startswith("runtime error: "):
        exc_type = "runtime error: " + re.split(r"[\[\d]", message[len("runtime error: "):], maxsplit=1)[0].strip()
    signal = next((line.strip() for line in lines[:start] if line.startswith("[signal ")), None)
    return ParsedException("go", (Section(exc_type, message, tuple(frames)),), 0, {"kind": kind, "signal": signal})


def _at_frames(lines: list[str], rules: InAppRules) -> ParsedException | None:
    """JVM, .NET and Node: a header line `Type: message`, then `at ...` frames, innermost first."""
    sections: list[list] = []                           # [type, message, frames, language]
    current: list | None = None
    for line in lines:
        frame, language = _at_frame(line, rules)
        if frame is not None:
            if current is None:
                current = ["Error", "", [], language]
                sections.append(current)
            current[3] = language
            if len(current[2]) < MAX_FRAMES:
                current[2].append(frame)
            continue
        stripped = line.strip()
        if not stripped or re.match(r"^\.\.\. \d+ (more|common frames omitted)$", stripped) \
                or stripped.startswith("--- End of "):
            continue
        inner = _DOTNET_INNER.match(line) if " ---> " in line or line.lstrip().startswith("--->") else None
        head = _JVM_HEADER.match(stripped)
        if head and _exception_like(head.group("type"), bool(sections)):
            current = [head.group("type"), (head.group("msg") or "").strip(), [], "jvm"]
            if inner is not None:                       # .NET: "A: outer ---> B: inner" on one line
                current[1] = current[1].split(" ---> ", 1)[0].strip()
            sections.append(current)
        elif not sections:
            current = None
    sections = [s for s in sections if s[2]]
    if not sections:
        return None
    language = sections[0][3]
    return ParsedException(language, tuple(Section(t, m, tuple(f)) for t, m, f, _ in sections), 0)


def _exception_like(name: str, after_one: bool) -> bool:
    last = name.rsplit(".", 1)[-1]
    return "." in name or last.endswith(("Error", "Exception", "Throwable", "Failure", "Fault")) or after_one


def _at_frame(line: str, rules: InAppRules) -> tuple[Frame | None, str]:
    if not line[:1].isspace() or "at " not in line[:12]:
        return None, ""
    line = line.rstrip().removesuffix(" {")           # Node: the error's own fields follow
    m = _JAVA_FRAME.match(line)
    if m and (m.group("file") is None or m.group("file").endswith((".java", ".kt", ".scala", ".groovy", ".kts"))
              or m.group("where") in ("Native Method", "Unknown Source")):
        cls = m.group("cls")
        file = m.group("file") or m.group("where")
        return Frame(file, m.group("func"), int(m.group("line")) if m.group("line") else None, _GENERATED_DIGITS.sub(
            "", cls) if "$" in cls else cls, rules.is_in_app(file, cls)), "jvm"
    m = _DOTNET_FRAME.match(line)
    if m and (m.group("file") or not _NODE_FRAME.match(line)):
        cls, file = m.group("cls"), m.group("file") or ""
        return Frame(file, m.group("func"), int(m.group("line")) if m.group("line") else None, cls,
                     rules.is_in_app(file, cls)), "dotnet"
    m = _NODE_FRAME.match(line)
    if m:
        file = m.group("file").removeprefix("file://")
        func = (m.group("func") or "<anonymous>").removeprefix("async ").removeprefix("new ")
        norm = file.replace("\\", "/")
        module = norm.split("/node_modules/", 1)[1].rsplit(".", 1)[0] if "/node_modules/" in norm else _file_key(norm)
        return Frame(file, func, int(m.group("line")), module, rules.is_in_app(file, module)), "node"
    return None, ""
