"""The package's import graph: no cycle, and every module imports alone."""
import subprocess
import sys
import textwrap
from pathlib import Path

from oodrepro import fingerprint


ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m for m in fingerprint.module_files() if not m.endswith("__main__"))  # __main__ runs the CLI


def test_the_package_import_graph_has_no_cycle():
    g = fingerprint.import_graph()
    assert "oodrepro.engine.core" in g and "oodrepro.train" in g["oodrepro.engine.core"]
    assert fingerprint.cycles(g) == []


def test_cycle_finder_finds_a_cycle(tmp_path):
    pkg = tmp_path / "oodrepro"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")  # a lazy import still closes the cycle
    assert fingerprint.cycles(fingerprint.import_graph(pkg)) == [["oodrepro.a", "oodrepro.b", "oodrepro.a"]]


ALONE = textwrap.dedent("""
    import importlib, sys
    failed = {}
    for m in sys.argv[1:]:
        for name in [n for n in sys.modules if n == "oodrepro" or n.startswith("oodrepro.")]:
            del sys.modules[name]  # no module of the package is loaded before m: m is imported alone
        try:
            importlib.import_module(m)
        except Exception as exc:
            failed[m] = repr(exc)
    print(failed)
""")


def test_every_module_imports_alone_in_a_fresh_interpreter():
    r = subprocess.run([sys.executable, "-c", ALONE, *MODULES], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "{}", r.stdout + r.stderr[-2000:]


def _trees():
    for name, path in fingerprint.module_files().items():
        yield name, path, __import__("ast").parse(path.read_text(encoding="utf-8"))


def test_no_function_is_over_60_lines():
    import ast

    long = [f"{name}.{n.name} ({n.end_lineno - n.lineno + 1} lines)" for name, _, tree in _trees()
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 60]
    assert long == []


def test_no_private_name_is_imported_from_another_module_and_no_private_cfg_key():
    import ast

    private = [f"{name}: from {n.module} import {a.name}" for name, _, tree in _trees() for n in ast.walk(tree)
               if isinstance(n, ast.ImportFrom) for a in n.names if a.name.startswith("_") and a.name != "__version__"]
    keys = [f"{name}:{n.lineno}" for name, _, tree in _trees() for n in ast.walk(tree)
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "cfg"
            and isinstance(n.slice, ast.Constant) and str(n.slice.value).startswith("_")]
    keys += [f"{name}:{n.lineno}" for name, _, tree in _trees() for n in ast.walk(tree) if isinstance(n, ast.Call)
             and any(isinstance(a, ast.Name) and a.id == "cfg" for a in n.args)
             and any((k.arg or "").startswith("_") for k in n.keywords)]  # dict(cfg, _seed=…)
    keys += [f"{name}:{n.lineno}" for name, _, tree in _trees() for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "get" and isinstance(n.func.value, ast.Name)
             and n.func.value.id == "cfg" and n.args and isinstance(n.args[0], ast.Constant)
             and str(n.args[0].value).startswith("_")]  # cfg.get("_…")
    assert private == [] and keys == []
