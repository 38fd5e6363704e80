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
