"""Faults around ``oodrepro run`` and the other commands (issue 21, classes 5, 6 and 8): one line each, the exit
code kept, the previous good outputs intact, every output location checked before a kernel starts, and one
working file per run. papermill is replaced in-process by a stand-in where a real kernel is not the point."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oodrepro import cli

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp: Path, monkeypatch, name: str = "page") -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('tag = "a"\nresults_dir = "results"\n')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("print(tag)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp / "notebooks" / "t").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, tmp / "notebooks" / "t" / f"{name}.ipynb")
    monkeypatch.chdir(tmp)
    return tmp


def _good_outputs(tmp: Path) -> dict:
    page = tmp / "book/generated/t/page.ipynb"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text('{"cells": [], "metadata": {"oodrepro": {"run_key": "old"}}}')
    res = tmp / "results/t/page.json"
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text('{"good": true}')
    return {p: p.read_bytes() for p in (page, res)}


def _fake_papermill(monkeypatch, exc=None, write=None):
    """papermill.execute_notebook replaced: optionally writes staged files (``write(stage)``), then raises
    ``exc`` (or writes the executed notebook)."""
    import papermill

    def fake(src, dst, **kw):
        Path(dst).write_text(Path(src).read_text())
        if write:
            write(Path(os.environ["OODREPRO_STAGE_DIR"]))
        if exc is not None:
            raise exc

    monkeypatch.setattr(papermill, "execute_notebook", fake)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def _hidden(tmp: Path) -> list:
    return sorted(str(p.relative_to(tmp)) for d in ("book", "results") if (tmp / d).exists()
                  for p in (tmp / d).rglob(".*"))


# --- class 5: traceback walls ---------------------------------------------------------------------------------
def test_closed_pipe_exits_quietly():
    """``oodrepro params kpca/main | head -1``: the reader is gone before the output is written."""
    p = subprocess.Popen([sys.executable, "-m", "oodrepro", "params", "kpca/main"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 141 and err == ""


def test_dead_kernel_is_one_line_and_keeps_the_last_good_outputs(tmp_path, monkeypatch, capsys):
    from nbclient.exceptions import DeadKernelError

    tmp = _project(tmp_path, monkeypatch)
    good = _good_outputs(tmp)
    _fake_papermill(monkeypatch, DeadKernelError("Kernel died"), write=lambda st: (st / "t").mkdir(parents=True)
                    or (st / "t/page.json").write_text("half"))
    assert cli.main(["run", "t/page"]) == 2
    assert "the kernel died (killed, or out of memory)" in _one_line(capsys)
    assert {p: p.read_bytes() for p in good} == good
    assert _hidden(tmp) == []


def test_ctrl_c_in_the_kernel_exits_130_in_one_line(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    good = _good_outputs(tmp)
    _fake_papermill(monkeypatch, KeyboardInterrupt())
    assert cli.main(["run", "t/page"]) == 130
    assert "interrupted; outputs of the last successful run are unchanged" in _one_line(capsys)
    assert {p: p.read_bytes() for p in good} == good and _hidden(tmp) == []


def test_full_output_folder_names_the_folder(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    good = _good_outputs(tmp)
    where = tmp / "book/generated/t"
    _fake_papermill(monkeypatch, OSError(errno.ENOSPC, "No space left on device", str(where / ".page.ipynb")))
    assert cli.main(["run", "t/page"]) == 2
    msg = _one_line(capsys)
    assert f"no space left on the device in {where}" in msg and "unchanged" in msg
    assert {p: p.read_bytes() for p in good} == good


@pytest.mark.parametrize("cmd", [["run", "t/page"], ["params", "t/page"], ["run", "--all"]])
def test_half_saved_notebook_is_one_line_naming_it(tmp_path, monkeypatch, capsys, cmd):
    tmp = _project(tmp_path, monkeypatch)
    nb = tmp / "notebooks/t/page.ipynb"
    nb.write_text(nb.read_text()[: len(nb.read_text()) // 2])
    assert cli.main(cmd) == 2
    msg = _one_line(capsys)
    assert "notebooks/t/page.ipynb is not valid JSON" in msg


def test_notebook_with_broken_parameters_cell_is_one_line(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    nb = tmp / "notebooks/t/page.ipynb"
    doc = json.loads(nb.read_text())
    doc["cells"][0]["source"] = "tag = ("
    nb.write_text(json.dumps(doc))
    assert cli.main(["run", "t/page"]) == 2
    assert "the parameters cell is not valid Python" in _one_line(capsys)


def _html(tmp: Path) -> Path:
    (tmp / "html").mkdir()
    (tmp / "html/index.html").write_text("<html></html>")
    return tmp / "html"


def test_bookcheck_missing_toc_is_one_line(tmp_path, capsys):
    from oodrepro import bookcheck

    assert bookcheck.main([str(_html(tmp_path)), "--toc", str(tmp_path / "missing.yml")]) == 2
    assert "table of contents" in (msg := _one_line(capsys)) and "missing.yml not found" in msg


def test_bookcheck_broken_toc_is_one_line(tmp_path, capsys):
    from oodrepro import bookcheck

    (tmp_path / "toc.yml").write_text("root: intro\nparts: [\n  - {file: a")
    assert bookcheck.main([str(_html(tmp_path)), "--toc", str(tmp_path / "toc.yml")]) == 2
    assert "is not readable YAML" in _one_line(capsys)


# --- class 6: every output location checked before a kernel starts --------------------------------------------
def _no_kernel(monkeypatch):
    import papermill

    def boom(*a, **k):
        raise AssertionError("a kernel started")

    monkeypatch.setattr(papermill, "execute_notebook", boom)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
@pytest.mark.parametrize("sub", ["t", "other"])
def test_unwritable_results_sub_folder_fails_before_a_kernel_starts(tmp_path, monkeypatch, capsys, sub):
    tmp = _project(tmp_path, monkeypatch)
    (tmp / "results" / sub).mkdir(parents=True)
    (tmp / "results" / sub).chmod(0o555)
    _no_kernel(monkeypatch)
    try:
        assert cli.main(["run", "t/page"]) == 2
    finally:
        (tmp / "results" / sub).chmod(0o755)
    assert f"results sub-folder results/{sub} is not writable" in _one_line(capsys)


def test_results_sub_folder_linking_outside_fails_before_a_kernel_starts(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    (tmp / "elsewhere").mkdir()
    (tmp / "results").mkdir()
    (tmp / "results" / "t").symlink_to(tmp / "elsewhere", target_is_directory=True)
    _no_kernel(monkeypatch)
    assert cli.main(["run", "t/page"]) == 2
    assert "results sub-folder results/t resolves to" in _one_line(capsys)
    assert list((tmp / "elsewhere").iterdir()) == []


def test_results_sub_folder_on_another_device_fails_before_a_kernel_starts(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    (tmp / "results" / "t").mkdir(parents=True)
    real_stat = Path.stat

    class _St:
        def __init__(self, st):
            self._st = st

        def __getattr__(self, k):
            return self._st.st_dev + 1 if k == "st_dev" else getattr(self._st, k)

    def stat(self, *a, **k):
        st = real_stat(self, *a, **k)
        return _St(st) if self.name == "t" and self.parent.name == "results" else st

    monkeypatch.setattr(Path, "stat", stat)
    _no_kernel(monkeypatch)
    assert cli.main(["run", "t/page"]) == 2
    assert "is on another device than the results folder" in _one_line(capsys)


# --- class 8: one working file per run, stale ones cleaned up -------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_each_run_has_its_own_working_file_and_stale_ones_are_removed(tmp_path, monkeypatch, capsys):
    tmp = _project(tmp_path, monkeypatch)
    out = tmp / "book/generated/t"
    out.mkdir(parents=True)
    dead, live = _dead_pid(), os.getpid()
    stale = [out / f".page.running-{dead}-abcdef.ipynb", tmp / f"results/.staging-{dead}-abcdef01"]
    stale[1].mkdir(parents=True)
    stale[0].write_text("{}")
    running = out / f".page.running-{live}-123456.ipynb"  # another run of this page, still going
    running.write_text("{}")
    seen = []
    _fake_papermill(monkeypatch, write=lambda st: seen.append(st))
    import papermill

    fake = papermill.execute_notebook

    def record(src, dst, **kw):
        seen.append(Path(dst))
        return fake(src, dst, **kw)

    monkeypatch.setattr(papermill, "execute_notebook", record)
    assert cli.main(["run", "t/page", "--force"]) == 0, capsys.readouterr().err
    work = [p for p in seen if p.suffix == ".ipynb"][0]
    assert work != running and f".running-{os.getpid()}-" in work.name and not work.exists()
    assert not any(p.exists() for p in stale) and running.exists()
    assert (out / "page.ipynb").is_file()


# --- class 7: a read-only but complete cache is read, not refused ---------------------------------------------
def test_read_only_cache_is_read_with_a_warning(tmp_path, monkeypatch, capsys):
    from oodrepro import cache

    tmp = _project(tmp_path, monkeypatch)
    root = cache.ensure_writable(tmp / "ro-cache")
    monkeypatch.setenv(cache.ENV, str(root))

    def read_only(base=None):
        raise cli.OodreproError(f"cache folder {root} is not writable (PermissionError: Read-only file system)")

    monkeypatch.setattr(cache, "ensure_writable", read_only)
    _fake_papermill(monkeypatch)
    assert cli.main(["run", "t/page", "--force"]) == 0
    err = capsys.readouterr().err
    assert "warning: cache folder" in err and "reading the entries present" in err
    assert (tmp / "book/generated/t/page.ipynb").is_file()
