"""A Sphinx extension for the API reference: docstrings written for readers of the source render as
reStructuredText without errors, so the book builds with warnings as errors.

The package's docstrings use ``name_`` (scikit-learn's fitted attributes) and ``|x − y|`` (absolute
values) in running text; reStructuredText reads the first as a hyperlink reference and the second as a
substitution, and a build with ``--warningiserror`` fails on both. :func:`escape_docstring` escapes
them outside inline literals, roles, literal blocks and directives; everything else is left as written.
Registered in ``_config.yml`` (``sphinx.extra_extensions``).
"""
from __future__ import annotations

import re

_CODE = re.compile(r"(:[\w:+-]+:`[^`]*`|``[^`]*``|`[^`]*`_{0,2})")  # roles, inline literals, interpreted text
_REF_END = re.compile(r"(?<=\w)(_{1,2})(?=[\s,.;:)\]]|$)")


def _escape_text(seg: str) -> str:
    return _REF_END.sub(lambda m: "\\_" * len(m.group(1)), seg.replace("|", "\\|"))


_NUMPY_NAME = re.compile(r"^(\s*\w+)(\s+:\s.*)$")  # "mean_ : ndarray" — napoleon reads the name itself


def escape_line(line: str) -> str:
    """One line of running text, escaped as the module docstring says.

    Only text outside inline literals and roles changes; the name at the start of a numpydoc
    ``name : type`` line is left to napoleon.
    """
    m = _NUMPY_NAME.match(line)
    if m:
        return m.group(1) + escape_line(m.group(2))
    parts = _CODE.split(line)
    return "".join(p if i % 2 else _escape_text(p) for i, p in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_docstring(lines: list[str]) -> list[str]:
    """Escape every line of running text in a docstring's lines.

    Literal blocks (after a line ending in ``::``), directive bodies (maths and the like), doctest
    lines and field-list markers are kept verbatim.
    """
    out, block_indent = [], None
    for line in lines:
        stripped = line.strip()
        if block_indent is not None:
            if not stripped or _indent(line) > block_indent:
                out.append(line)
                continue
            block_indent = None
        if stripped.startswith((">>>", "...")) or stripped.startswith(".. "):
            out.append(line)
        else:
            out.append(escape_line(line))
        if stripped.startswith(".. ") or stripped.endswith("::"):
            block_indent = _indent(line)
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = escape_docstring(lines)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Each script once per page: sphinx-thebe registers its inline ``const THEBE_JS_URL = …`` both with
    the registry and the builder under Sphinx 7.4, and the second copy is a console error
    ("Identifier 'THEBE_JS_URL' has already been declared") on every page."""
    if not context.get("default_mode"):  # pydata-sphinx-theme: an empty mode is a console error on first visit
        context["default_mode"] = "auto"
    files = context.get("script_files")
    if not files:
        return
    seen, kept = set(), []
    for js in files:
        key = (str(getattr(js, "filename", js) or ""), repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    files[:] = kept


def _keep_autosummary_pages(app, config):
    """``only_build_toc_files`` (sphinx-external-toc) excludes every source file that ``_toc.yml`` does not
    list — on a rebuild that includes the API pages autosummary generated on the previous build, and
    the build then fails ("autosummary references excluded document"). They are listed by the
    autosummary toctrees of ``book/api/``: keep them."""
    config.exclude_patterns = [p for p in config.exclude_patterns if "_autosummary/" not in str(p)]


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", _process, priority=400)  # before napoleon (500): raw text
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("config-inited", _keep_autosummary_pages, priority=950)  # after sphinx-external-toc (900)
    # MathJax on every page: chapter titles with maths ($k$, $\\alpha$) sit in every page's sidebar
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
