"""oodrepro.fingerprint: code fingerprints."""
from oodrepro import fingerprint


def test_code_fingerprint_ignores_comments_and_docstrings():
    src = "def f(x):\n    'doc'\n    return x + 1  # note\n"
    assert fingerprint.normalised_source(src) == fingerprint.normalised_source('def f(x):\n    """other"""\n\n    return x + 1\n')
    assert fingerprint.normalised_source(src) != fingerprint.normalised_source("def f(x):\n    return x + 2\n")


def _package(tmp_path, name, files):
    import importlib
    import sys

    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for fname, text in files.items():
        (pkg / fname).write_text(text)
    sys.path.insert(0, str(tmp_path))
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]
    importlib.invalidate_caches()
    return {f[:-3]: importlib.import_module(f"{name}.{f[:-3]}") for f in files}


STEP = "from . import helpers\n\n\ndef train_step(x):\n    '''one step'''\n    return helpers.scale(x) + 1\n"
HELPERS = "def scale(x):\n    return 2 * x\n"


def test_moving_a_training_function_keeps_its_fingerprint(tmp_path):
    from oodrepro.fingerprint import function_fingerprint

    m = _package(tmp_path, "fpmove", {"a.py": STEP, "b.py": "# the same function, moved here\n" + STEP,
                                      "helpers.py": HELPERS})
    fa = function_fingerprint(m["a"].train_step, package="fpmove")
    assert fa == function_fingerprint(m["b"].train_step, package="fpmove")


def test_editing_a_training_function_or_what_it_calls_changes_its_fingerprint(tmp_path):
    from oodrepro.fingerprint import function_fingerprint

    m = _package(tmp_path, "fpedit", {"a.py": STEP, "helpers.py": HELPERS})
    base = function_fingerprint(m["a"].train_step, package="fpedit")
    m2 = _package(tmp_path / "2", "fpedit", {"a.py": STEP.replace("+ 1", "+ 2"), "helpers.py": HELPERS}) \
        if (tmp_path / "2").mkdir() is None else None
    assert function_fingerprint(m2["a"].train_step, package="fpedit") != base
    m3 = _package(tmp_path / "3", "fpedit", {"a.py": STEP, "helpers.py": HELPERS.replace("2 * x", "3 * x")}) \
        if (tmp_path / "3").mkdir() is None else None
    assert function_fingerprint(m3["a"].train_step, package="fpedit") != base
    # a comment or a docstring is not an edit
    m4 = _package(tmp_path / "4", "fpedit", {"a.py": STEP.replace("'''one step'''", "# no docstring"),
                                             "helpers.py": HELPERS}) if (tmp_path / "4").mkdir() is None else None
    assert function_fingerprint(m4["a"].train_step, package="fpedit") == base
