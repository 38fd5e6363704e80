"""The book build is staged (issue 21: after a failed build the previous good outputs are intact):
``oodrepro.bookbuild`` (what ``make book-only`` runs) builds into a hidden folder inside ``_build`` and
replaces ``_build/html`` only on success. jupyter-book is replaced by a stand-in script here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oodrepro import bookbuild
from oodrepro.errors import OodreproError

ROOT = Path(__file__).resolve().parents[1]

FAKE = r'''
import pathlib, sys
args = sys.argv[1:]
assert args[0] == "build" and "--warningiserror" in args and "--keep-going" in args, args
stage = pathlib.Path(args[args.index("--path-output") + 1])
mode = (pathlib.Path(args[-1]) / "mode.txt").read_text().strip()
html = stage / "_build" / "html"
seeded = (html / "index.html").read_text() if (html / "index.html").exists() else "none"
html.mkdir(parents=True, exist_ok=True)
(html / "page.html").write_text("new page")  # written before the failure, as Sphinx does
if mode == "fail":
    print("reading sources... [ 50%] kpca/main", flush=True)
    print("WARNING: undefined label: 'fig-missing'", file=sys.stderr)
    sys.exit(1)
if mode == "interrupt":
    raise KeyboardInterrupt
(stage / "_build" / ".doctrees").mkdir(exist_ok=True)
(stage / "_build" / ".doctrees" / "env.pickle").write_text("new env")
if mode != "no-index":
    (html / "index.html").write_text("new index (seeded with: " + seeded + ")")
'''


@pytest.fixture
def jb(tmp_path):
    script = tmp_path / "fake_jupyter_book.py"
    script.write_text(FAKE)
    return [sys.executable, str(script)]


def _book(tmp: Path, mode: str) -> tuple[Path, Path]:
    src = tmp / "book"
    src.mkdir(exist_ok=True)
    (src / "mode.txt").write_text(mode)
    out = tmp / "_build"
    (out / "html").mkdir(parents=True, exist_ok=True)
    (out / "html" / "index.html").write_text("good index")
    (out / "html" / "old.html").write_text("good page")
    return src, out


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_good_build_replaces_the_previous(tmp_path, jb):
    src, out = _book(tmp_path, "ok")
    html = bookbuild.build(src, out, command=jb)
    assert html == out / "html"
    assert (html / "index.html").read_text() == "new index (seeded with: good index)"  # incremental: seeded
    assert (html / "page.html").read_text() == "new page"
    assert (out / ".doctrees" / "env.pickle").read_text() == "new env"
    assert not [p for p in out.iterdir() if p.name.startswith((".staging-", ".old-"))]


@pytest.mark.parametrize("mode,fragment", [
    ("fail", "the book build failed (exit 1): WARNING: undefined label: 'fig-missing'"),
    ("interrupt", "failed (killed by signal 2): KeyboardInterrupt"),
])
def test_a_failed_build_leaves_the_previous_book_intact(tmp_path, jb, mode, fragment):
    src, out = _book(tmp_path, mode)
    before = _tree(out)
    with pytest.raises(OodreproError) as ei:
        bookbuild.build(src, out, command=jb)
    msg = str(ei.value)
    assert fragment in msg and f"{out / 'html'} is unchanged" in msg and "\n" not in msg
    assert _tree(out) == before  # no new page mixed in, nothing removed, no staging folder left
    assert sorted(p.name for p in out.iterdir()) == ["html"]


def test_a_first_build_without_an_index_page_is_refused(tmp_path, jb):
    src, out = _book(tmp_path, "no-index")
    for p in (out / "html").iterdir():
        p.unlink()
    (out / "html").rmdir()
    with pytest.raises(OodreproError, match="wrote no html/index.html"):
        bookbuild.build(src, out, command=jb)
    assert list(out.iterdir()) == []


def test_a_killed_builds_staging_is_removed_on_the_next_start(tmp_path, jb):
    src, out = _book(tmp_path, "ok")
    dead = out / ".staging-book-999999999-abcdef"
    (dead / "_build" / "html").mkdir(parents=True)
    bookbuild.build(src, out, command=jb)
    assert not dead.exists()


def test_main_exits_2_with_one_line(tmp_path, jb, monkeypatch, capsys):
    src, out = _book(tmp_path, "fail")
    monkeypatch.setattr(bookbuild, "_jupyter_book", lambda: jb)
    assert bookbuild.main([str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("oodrepro: error: the book build failed") and "\n" not in err
    assert (out / "html" / "index.html").read_text() == "good index"


def test_make_book_only_uses_the_staged_build():
    out = subprocess.run(["make", "-n", "book-only", "STAMP=Makefile"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "-m oodrepro.bookbuild . _build" in out and "jupyter-book build" not in out
