"""The classroom build is staged (issue 21, class 3): ``oodrepro.classroom.assign`` builds beside
``dist/<name>`` and replaces it only on success, so a failed build leaves the previous good one intact.
otter itself is replaced by a stand-in script (the real build is tests/book/test_assignments.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oodrepro import classroom
from oodrepro.errors import OodreproError

ROOT = Path(__file__).resolve().parents[1]

FAKE = r'''
import sys, pathlib
_, action, src, dest = sys.argv
mode = pathlib.Path(src).read_text().strip()
dest = pathlib.Path(dest)
(dest / "student").mkdir(parents=True)
(dest / "student" / "a.ipynb").write_text("new student " + mode)
if mode == "fail":  # otter writes part of the output, then a solution's test fails
    print("AssertionError: test q1 failed for the solution", file=sys.stderr)
    sys.exit(1)
if mode != "no-autograder":
    (dest / "autograder").mkdir()
    (dest / "autograder" / "a.zip").write_text("new grader")
'''


@pytest.fixture
def otter(tmp_path):
    script = tmp_path / "fake_otter.py"
    script.write_text(FAKE)
    return [sys.executable, str(script)]


def _previous(dist: Path) -> Path:
    good = dist / "a"
    (good / "student").mkdir(parents=True)
    (good / "student" / "a.ipynb").write_text("good student")
    (good / "autograder").mkdir()
    (good / "autograder" / "a.zip").write_text("good grader")
    return good


def _source(tmp: Path, mode: str) -> Path:
    p = tmp / "a.ipynb"
    p.write_text(mode)
    return p


def _hidden(dist: Path) -> list:
    return sorted(p.name for p in dist.iterdir() if p.name.startswith("."))


def test_a_good_build_replaces_the_previous(tmp_path, otter):
    dist = tmp_path / "dist"
    _previous(dist)
    classroom.assign(_source(tmp_path, "ok"), dist / "a", command=otter)
    assert (dist / "a" / "student" / "a.ipynb").read_text() == "new student ok"
    assert (dist / "a" / "autograder" / "a.zip").read_text() == "new grader"
    assert _hidden(dist) == []


@pytest.mark.parametrize("mode,fragment", [("fail", "failed (exit 1): AssertionError: test q1 failed"),
                                           ("no-autograder", "wrote no autograder folder")])
def test_a_failed_build_leaves_the_previous_intact(tmp_path, otter, mode, fragment):
    dist = tmp_path / "dist"
    _previous(dist)
    with pytest.raises(OodreproError) as ei:
        classroom.assign(_source(tmp_path, mode), dist / "a", command=otter)
    msg = str(ei.value)
    assert fragment in msg and "is unchanged" in msg and "\n" not in msg
    assert (dist / "a" / "student" / "a.ipynb").read_text() == "good student"
    assert (dist / "a" / "autograder" / "a.zip").read_text() == "good grader"
    assert _hidden(dist) == []  # no staging folder left


def test_a_failed_first_build_leaves_nothing(tmp_path, otter):
    dist = tmp_path / "dist"
    with pytest.raises(OodreproError, match="failed"):
        classroom.assign(_source(tmp_path, "fail"), dist / "a", command=otter)
    assert list(dist.iterdir()) == []


def test_stale_staging_of_a_dead_build_is_removed(tmp_path, otter):
    dist = tmp_path / "dist"
    _previous(dist)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = dist / f".staging-a-{dead.pid}-abcdef"
    (stale / "student").mkdir(parents=True)
    live = dist / f".staging-a-{os.getpid()}-abcdef"  # a build running now: kept
    live.mkdir()
    classroom.assign(_source(tmp_path, "ok"), dist / "a", command=otter)
    assert not stale.exists() and live.exists()


def test_dest_symlink_is_refused(tmp_path, otter):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "a").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(OodreproError, match="is a symlink"):
        classroom.assign(_source(tmp_path, "ok"), tmp_path / "dist" / "a", command=otter)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_the_makefile_builds_through_the_staged_assign():
    text = (ROOT / "Makefile").read_text()
    target = text[text.index("\nassignments:"):].split("\n\n")[0]
    assert "rm -rf" not in target and "oodrepro.classroom assign" in target


def test_module_main_reports_one_line(tmp_path, capsys):
    rc = classroom.main(["assign", str(tmp_path / "missing.ipynb"), str(tmp_path / "dist" / "a")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("oodrepro: error: assignment notebook") and "\n" not in err
