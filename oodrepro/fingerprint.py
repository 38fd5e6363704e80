"""What a cache entry was computed *by*: a fingerprint of the package code behind it.

A cache key holds the parameters, the data's fingerprint and — through :func:`fingerprint` — the code
that produced the entry: the module that defines each given object and every module of the package it
imports, transitively. Editing a detector therefore changes the key of that detector's scores (they are
recomputed) and nothing upstream: the trained models' keys hold the training code's fingerprint, which
does not include the detectors.

The source is compared as its syntax tree with docstrings removed (:func:`normalised_source`), so
editing a comment, a docstring or the layout recomputes nothing.

Modules whose effect is already in every key by other means are left out of the closure:
``oodrepro.data`` (data enter keys by a fingerprint of their content), ``oodrepro.cache`` (the mechanism
itself) and the package's ``__init__`` (version only).

:func:`import_graph` is the package's static import graph (``import`` statements, including those inside
functions); the test-suite uses it to check that the package has no import cycle.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import textwrap
import types
from functools import lru_cache
from pathlib import Path

PACKAGE = "oodrepro"
ROOT = Path(__file__).resolve().parent
#: Left out of code fingerprints (see the module docstring).
EXCLUDED = ("oodrepro.data", "oodrepro.cache", "oodrepro")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package: dotted name → file (with the chapters outside the package that
    ``$OODREPRO_CHAPTERS`` names, as ``oodrepro.experiments.<paper>.…``)."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    if root == ROOT:
        from .experiments import chapter_folders

        for folder in map(Path, chapter_folders()):
            for p in sorted(folder.rglob("*.py")):
                parts = ["oodrepro", "experiments", *p.relative_to(folder).with_suffix("").parts]
                out.setdefault(".".join(parts[:-1] if parts[-1] == "__init__" else parts), p)
    return out


def _targets(mods: dict, cur: str, node) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        base = cur.split(".")
        pkg = base if mods[cur].name == "__init__.py" else base[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)] if node.level else []
        head = ".".join(pkg + ([node.module] if node.module else []))
        cands = [f"{head}.{a.name}" for a in node.names] + [head]
        # 'from . import x' names module x; 'from .m import f' names module m
        subs = [t for t in cands[:-1] if t in mods]
        return subs or ([head] if head in mods else [])
    return [a.name for a in node.names if a.name in mods]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the package modules it imports (statically, any nesting level)."""
    mods = module_files(root)
    graph = {}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        graph[m] = {t for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                    for t in _targets(mods, m, n) if t != m and not m.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles of ``graph`` (each as the list of modules along it, first repeated last)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(u, stack):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v, stack)
        stack.pop()
        state[u] = 2

    for m in sorted(graph):
        if not state.get(m):
            visit(m, [])
    return found


def _excluded(m: str) -> bool:
    return m == PACKAGE or any(m == e or m.startswith(e + ".") for e in EXCLUDED if e != PACKAGE)


@lru_cache(maxsize=None)
def _graph() -> dict[str, frozenset]:
    return {k: frozenset(v) for k, v in import_graph().items()}


def closure(module: str) -> list[str]:
    """``module`` and every package module it imports, transitively (without :data:`EXCLUDED`)."""
    g = _graph()
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen or _excluded(m) or m not in g:
            continue
        seen.add(m)
        todo.extend(g[m])
    return sorted(seen)


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node):
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def normalised_source(text: str) -> str:
    """The code of ``text`` without comments, docstrings or layout (its syntax tree, dumped)."""
    import textwrap

    tree = ast.parse(textwrap.dedent(text))
    return ast.dump(_StripDocstrings().visit(tree), include_attributes=False)


@lru_cache(maxsize=None)
def _module_digest(module: str) -> str:
    path = module_files()[module]
    return hashlib.sha1(normalised_source(path.read_text()).encode()).hexdigest()


def _module_of(obj) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return getattr(obj, "__module__", None) or type(obj).__module__


def fingerprint(*objs, functions=()) -> str:
    """SHA-1 over the code behind ``objs`` (modules, module names, classes or functions: each stands for
    its module's :func:`closure`) and the source of each of ``functions`` alone (for small wiring
    functions whose module holds much else)."""
    h = hashlib.sha1()
    mods = sorted({m for o in objs for m in closure(_module_of(o))})
    for m in mods:
        h.update(m.encode())
        h.update(_module_digest(m).encode())
    for fn in functions:
        try:
            src = inspect.getsource(fn)
        except (OSError, TypeError):
            src = repr(fn)
        try:
            src = normalised_source(src)
        except SyntaxError:  # a lambda's line can be a fragment: hash it as text
            pass
        h.update(src.encode())
    return h.hexdigest()


def _source(obj) -> str | None:
    try:
        return normalised_source(inspect.getsource(obj))
    except (OSError, TypeError, SyntaxError):
        return None


def _referenced(obj, tree) -> list:
    """The objects ``obj``'s code names: globals of its module, and attributes of modules it names
    (``loop.run``), resolved now."""
    mod = sys.modules.get(getattr(obj, "__module__", "") or "")
    scope = dict(vars(mod)) if mod else {}
    scope.update(getattr(obj, "__globals__", {}) or {})
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in scope:
            out.append(scope[node.id])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in scope:
            base = scope[node.value.id]
            if isinstance(base, types.ModuleType) and hasattr(base, node.attr):
                out.append(getattr(base, node.attr))
    if isinstance(obj, type):
        out += list(obj.__bases__)
    return out


def function_fingerprint(*objs, package: str = PACKAGE) -> str:
    """SHA-1 over the source of each of ``objs`` (functions or classes) and of every function or class of
    ``package`` they name, transitively — not over the modules they live in. Moving a function to another
    module keeps its fingerprint; editing its body, or the body of anything it calls, changes it.

    Comments, docstrings and layout do not count (:func:`normalised_source`); objects outside ``package``
    (numpy, torch) and in :data:`EXCLUDED` modules (the data, whose content enters keys by its own
    fingerprint; the cache mechanism) are not followed."""
    seen: dict[int, str] = {}
    todo = list(objs)
    while todo:
        obj = todo.pop()
        obj = getattr(obj, "__func__", obj)
        if id(obj) in seen or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        mod = getattr(obj, "__module__", "") or ""
        if not (mod == package or mod.startswith(package + ".")) or _excluded(mod):
            continue
        src = _source(obj)
        if src is None:
            continue
        seen[id(obj)] = src
        todo.extend(_referenced(obj, ast.parse(textwrap.dedent(inspect.getsource(obj)))))
    h = hashlib.sha1()
    for src in sorted(seen.values()):
        h.update(src.encode())
    return h.hexdigest()


def reset() -> None:
    """Forget the memoised graph and digests (after source files changed in this process)."""
    _graph.cache_clear()
    _module_digest.cache_clear()


if __name__ == "__main__":  # python -m oodrepro.fingerprint: print the cycles, if any
    for c in cycles(import_graph()):
        print(" -> ".join(c))
    sys.exit(0)
