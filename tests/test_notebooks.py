"""The notebooks: committed clean, and their parameters cell consistent with their schema (the chapters'
notebooks are executed in tests/book/test_pages.py)."""
import ast
import json
from pathlib import Path

import pytest

from oodrepro import cli, config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def _nb(p):
    return json.loads(p.read_text())


def _param_names(nb) -> set:
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(cells[0]["source"]))
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}


def test_there_are_notebooks():
    assert any(p.name == "table1.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs_and_params_match_schema(path):
    nb = _nb(path)
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert not c.get("outputs") and not c.get("execution_count"), f"{path} has outputs"
    names = _param_names(nb)
    assert "schema" not in nb["metadata"].get("oodrepro", {}), "a page's schema is its name's, not the notebook's"
    schema = cli.schema_of(path)
    if schema:
        expected = {p.name for p in config.schema(schema).params} | {"profile"}
        assert names == expected, f"parameters cell vs schema: {sorted(names ^ expected)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_papermill_reads_every_parameter_line(path, caplog):
    """papermill's own reading of the parameters cell (``oodrepro params``, ``papermill --help-notebook``) parses
    every line: a second '=' in a line's comment made it give up on the line ("Unable to parse line")."""
    import logging

    import papermill

    with caplog.at_level(logging.WARNING, logger="papermill"):
        got = papermill.inspect_notebook(str(path))
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()], caplog.text
    assert set(got) == _param_names(_nb(path))
