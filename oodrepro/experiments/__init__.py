"""The chapters' package parts, one sub-package per paper (``oodrepro.experiments.<paper>``).

Nothing is imported here: :func:`oodrepro.config.schema` and :func:`oodrepro.engine.page.spec` import a
chapter when one of its schemas or pages is first asked for. See ``CONTRIBUTING.md`` for the files of a
new chapter.

A chapter may also live outside the package — a course's own chapter, or the example chapter of the tests:
the folders listed in ``$OODREPRO_CHAPTERS`` (separated by ``os.pathsep``) are searched after this one, so
``<folder>/<paper>/__init__.py`` is imported as ``oodrepro.experiments.<paper>`` (and its code enters the
cache keys like the package's own, :func:`oodrepro.fingerprint.module_files`).
"""
import os

ENV = "OODREPRO_CHAPTERS"


def chapter_folders() -> list[str]:
    """The folders of ``$OODREPRO_CHAPTERS`` that exist."""
    return [p for p in os.environ.get(ENV, "").split(os.pathsep) if p and os.path.isdir(p)]


__path__ += [p for p in chapter_folders() if p not in __path__]  # noqa: F821 (a package's own __path__)
