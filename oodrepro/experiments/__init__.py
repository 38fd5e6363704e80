"""The chapters' package parts, one sub-package per paper (``oodrepro.experiments.<paper>``).

Nothing is imported here: :func:`oodrepro.config.schema` and :func:`oodrepro.engine.page.spec` import a
chapter when one of its schemas or pages is first asked for. See ``CONTRIBUTING.md`` for the files of a
new chapter.
"""
