"""The book build (``make book-only``), staged like ``oodrepro run`` and the classroom build.

``jupyter-book build`` writes into ``_build/html`` as it goes: a build that fails halfway (a warning under
``--warningiserror``, a broken page, Ctrl-C, a full disk) used to leave a mix of new and old pages there, or
none. Here the builder writes into a hidden folder inside the output folder
(``_build/.staging-book-<pid>-<random>``, which ``_config.yml`` excludes from the sources as ``_build/**``),
seeded with a copy of the previous build so that Sphinx's incremental build still works; ``_build/html``
(and the doctrees beside it) is replaced only when the builder exited 0 and wrote ``html/index.html``.
After a failure the previous good book is intact and the staging folder removed; the next start removes
the staging folders of builds that were killed.

``python -m oodrepro.bookbuild [SOURCE] [OUTPUT]`` (defaults ``.`` and ``_build``) is what the Makefile runs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Sequence

from .classroom import STAGE_PREFIX, clean_stale
from .errors import OodreproError

#: what the build produces under ``<output>/``; each is moved into place on success
PRODUCTS = ("html", ".doctrees", "jupyter_execute")
#: the flags ``make book-only`` has always passed
FLAGS = ("--warningiserror", "--keep-going")


def _jupyter_book() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PROBLEM = re.compile(r"warning|error|exception|traceback|interrupt", re.I)
_MESSAGE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):|\w+(Error|Exception|Interrupt)\b")


def _run(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd``, passing its output through; return its exit code and the line that says what went wrong:
    the last Sphinx warning / error or Python exception, else the last line naming a problem, else the last
    line with words (not jupyter-book's box rules)."""
    message, problem, last = "", "", ""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            text = _ANSI.sub("", line).strip()
            if re.search(r"[A-Za-z]", text):
                last = text
                if _PROBLEM.search(text):
                    problem = text
                if _MESSAGE.search(text):
                    message = text
        rc = proc.wait()
    return rc, message or problem or last


def build(source=".", output="_build", command: Sequence[str] | None = None, flags: Sequence[str] = FLAGS) -> Path:
    """Build the book in ``source`` into ``<output>/html`` through a staging folder; return that folder.

    ``command`` replaces the ``jupyter-book`` executable (tests pass a stand-in); it is called as
    ``command build *flags --path-output STAGE SOURCE`` and must write ``STAGE/_build/html``. Raises
    :class:`~oodrepro.errors.OodreproError` (one line) when the build failed, saying the previous book is intact.
    """
    source, output = Path(source), Path(output)
    html = output / "html"
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OodreproError(f"output folder {output} is not writable ({exc.strerror or exc})") from None
    if html.is_symlink() or output.is_symlink():
        raise OodreproError(f"output folder {html} is (under) a symlink; give a real folder (nothing written)")
    clean_stale(output)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    stage = output / f"{STAGE_PREFIX}book-{tag}"
    built = stage / "_build"
    olds: list[Path] = []
    try:
        built.mkdir(parents=True)
        for name in PRODUCTS:  # seed with the previous build: Sphinx rebuilds only what changed
            if (output / name).is_dir() and not (output / name).is_symlink():
                shutil.copytree(output / name, built / name, symlinks=True)
        cmd = list(command or _jupyter_book()) + ["build", *flags, "--path-output", str(stage), str(source)]
        rc, last = _run(cmd)
        if rc != 0:
            how = f"exit {rc}" if rc > 0 else f"killed by signal {-rc}"
            raise OodreproError(f"the book build failed ({how}): {last[:300]}; {html} is unchanged "
                                "(the previous good build)")
        if not (built / "html" / "index.html").is_file():
            raise OodreproError(f"the book build wrote no html/index.html; {html} is unchanged")
        for name in PRODUCTS:
            if not (built / name).exists():
                continue
            if (output / name).exists():
                old = output / f".old-{name.lstrip('.')}-{tag}"
                os.replace(output / name, old)
                olds.append(old)
            os.replace(built / name, output / name)
    except KeyboardInterrupt:
        _restore(output, olds, tag)
        raise OodreproError(f"interrupted; {html} is unchanged") from None
    except OSError as exc:
        _restore(output, olds, tag)
        raise OodreproError(f"could not write the book into {output} ({exc.strerror or exc}); {html} is unchanged") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
    return html


def _restore(output: Path, olds: list[Path], tag: str) -> None:
    """Put back the products moved aside before a failure while swapping them in."""
    for old in list(olds):
        name = next(n for n in PRODUCTS if old.name == f".old-{n.lstrip('.')}-{tag}")
        if (output / name).exists():
            shutil.rmtree(output / name, ignore_errors=True)
        os.replace(old, output / name)
        olds.remove(old)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m oodrepro.bookbuild",
                                 description="jupyter-book build, staged: OUTPUT/html is replaced only on success")
    ap.add_argument("source", nargs="?", default=".")
    ap.add_argument("output", nargs="?", default="_build")
    args = ap.parse_args(argv)
    try:
        html = build(args.source, args.output)
    except OodreproError as exc:
        print(f"oodrepro: error: {exc}", file=sys.stderr)
        return 2
    print(f"book: {html.resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
