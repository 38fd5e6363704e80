"""The one call a notebook makes: resolve → run → write → read → glue → claims table.

A chapter registers each of its pages as a :class:`PageSpec` (the page's name is its notebook's path
under ``notebooks/`` without ``.ipynb`` and its result file's path under ``results/``)::

    PageSpec("knn_ls/table1", run=run_page, texts=page_texts)

and the notebook, after its ``parameters`` cell, calls::

    P = page.run("knn_ls/table1", globals())

which resolves the parameters the schema declares from the notebook's namespace (validated, with the
profile's defaults), runs ``spec.run(cfg)`` (``{"rows": …, "claims": […], "extra": {…}}``), writes the
result file, reads it back — everything the page shows comes from the file —, glues the standard
numbers (``wall_time``, ``n_seeds``, ``n_reproduced``, ``n_claims``, ``tbl_claims``) and whatever
``spec.texts(doc, cfg)`` returns. The notebook's remaining cells draw figures from ``P`` and glue them
with :meth:`Page.figure`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from .. import archive, config, provenance, report, results
from . import core
from ..errors import OodreproError, ParameterError


@dataclass(frozen=True)
class PageSpec:
    """One page of a chapter, declared by its name ``"<chapter>/<page>"``: the notebook is
    ``notebooks/<chapter>/<page>.ipynb`` and the parameter schema ``"<chapter>.<page>"``; with its runner and
    page text."""

    name: str
    run: Callable[[dict], dict]
    texts: Callable[[dict, dict], Mapping[str, Any]] | None = None
    claims_title: str = "Claims tested on this page"
    #: whether the page's claims stand beside a paper's (False: claims beyond the papers, no profile note)
    beside_paper: bool = True

    @property
    def schema(self) -> str:
        """The name of the page's parameter schema (:func:`oodrepro.config.schema`)."""
        return self.name.replace("/", ".")


_PAGES: dict[str, PageSpec] = {}
NO_DATA = "No pairing of this run has data on this machine."


def register(spec: PageSpec) -> PageSpec:
    _PAGES[spec.name] = spec
    return spec


def spec(name: str) -> PageSpec:
    """The registered page ``name`` (``"knn_ls/table1"``), importing its chapter on demand."""
    if name not in _PAGES:
        config.load_chapter(name)
    try:
        return _PAGES[name]
    except KeyError:
        raise ParameterError(f"unknown page {name!r}; known: {', '.join(sorted(_PAGES))}") from None


def as_block(key: str, value):
    """A table key (``tbl_*``) whose chapter gives a sentence instead of a table ("No pairing of this run has
    data.") is glued as Markdown: glued as plain text, the page's glue block would show it as a quoted literal."""
    if key.startswith("tbl_") and isinstance(value, str):
        from IPython.display import Markdown

        return Markdown(value)
    return value


def _glue(name: str, value) -> None:
    from myst_nb import glue

    glue(name, value, display=False)


def _shown(v) -> str:
    """A parameter's value for the page: its repr, long lists shortened to their ends."""
    if isinstance(v, list) and len(v) > 8:
        return f"{len(v)} items: {v[0]!r} … {v[-1]!r}"
    return repr(v)


class Page:
    """An executed page: its parameters ``cfg``, its result file ``doc`` (read back) and glue helpers."""

    def __init__(self, name: str, cfg: dict, doc: dict, path: Path | None):
        self.name, self.cfg, self.doc, self.path = name, cfg, doc, path
        #: the archived paper-scale run of this page (a :class:`Page` read from :mod:`oodrepro.archive`), or None
        self.archived: Page | None = None
        self.archive_note = ""

    @property
    def meta(self) -> dict:
        return self.doc["meta"]

    @property
    def rows(self) -> pd.DataFrame:
        return pd.DataFrame(self.doc["rows"])

    def frame(self, key: str) -> pd.DataFrame:
        """A table the result file holds beside its rows (e.g. ``"summary"``)."""
        return pd.DataFrame(self.doc.get(key, []))

    def glue(self, name: str, value) -> None:
        """Glue a value: text, a number, ``IPython.display.Markdown`` or a styled table."""
        _glue(name, value)

    def table(self, name: str, df, caption: str = "", **kw) -> None:
        """Glue ``df`` as a captioned table (:func:`oodrepro.report.styled`); a string is glued as is."""
        _glue(name, df if isinstance(df, str) else report.styled(df, caption, profile=self.cfg.get("profile"), **kw))

    def figure(self, name: str, fig, when: bool = True, otherwise: str = NO_DATA) -> None:
        """Glue a matplotlib figure and close it (the page shows it where ``{glue:figure}`` asks).

        ``fig`` may be a function that draws it, called only ``when`` is true; otherwise the text
        ``otherwise`` is glued in its place (e.g. when no pairing of the run had data)."""
        import matplotlib.pyplot as plt

        if not when:
            _glue(name, otherwise)
            return
        fig = fig() if callable(fig) else fig
        _glue(name, fig)
        plt.close(fig)

    def paper_figure(self, name: str, draw: Callable[["Page"], Any]) -> None:
        """Glue ``draw(archived page)`` as ``name`` (the paper-scale section's figure), or the reason there is
        none. ``draw`` gets the archived page, whose ``cfg["profile"]`` is the archived run's."""
        a = self.archived
        if a is None or not a.has_data:
            from IPython.display import Markdown

            _glue(name, Markdown("") if a is None else NO_DATA)  # no archive: the provenance box says why
            return
        self.figure(name, lambda: draw(a))

    @property
    def has_data(self) -> bool:
        """Whether any row of the result file was computed (not *needs data*); a page whose rows carry no
        status (a simulation: it needs no data set) has data when it has rows."""
        if "status" not in self.rows:
            return len(self.rows) > 0
        return bool((self.rows["status"] == "ok").any())

    def standard(self, claims_title: str, beside_paper: bool = True) -> dict:
        """What every page glues: run time, number of seeds, the claims table and its counts (with the profile
        note when the claims stand ``beside_paper``)."""
        tbl, n_rep, n_claims = report.claims_table(self.doc.get("claims", []), claims_title,
                                                   self.cfg.get("profile") if beside_paper else None)
        return {"wall_time": f"{self.meta['wall_time_s']:.0f} s", "n_seeds": len(self.meta.get("seeds") or []),
                "n_reproduced": n_rep, "n_claims": n_claims, "tbl_claims": tbl}

    def show_provenance(self) -> None:
        """Display the provenance admonition (profile, data, seeds, version and commit, date, wall time)
        where ``page.run`` is called, and glue it as ``provenance`` for pages that place it elsewhere."""
        from IPython.display import HTML, display

        box = HTML(provenance.admonition(self.doc))
        _glue("provenance", box)
        display(box)

    def __repr__(self) -> str:
        """The page's parameters, one per line (long lists shortened): what this run used."""
        width = max(len(k) for k in self.cfg)
        lines = [f"{k:<{width}} = {_shown(v)}" for k, v in self.cfg.items()]
        return f"{self.name}, parameters of this run:\n" + "\n".join(lines)


def execute(name: str, namespace: Mapping[str, Any]) -> tuple[dict, dict, float]:
    """Resolve ``name``'s parameters from ``namespace`` and run it: ``(cfg, run output, seconds)``."""
    sp = spec(name)
    sch = config.schema(sp.schema)
    overrides = {p.name: namespace.get(p.name) for p in sch.params}
    cfg = config.resolve(sp.schema, profile=namespace.get("profile") or "quick", **overrides)
    # the result file's folder is checked before the computation, not when the result is written after it
    results.writable_dir((Path(cfg["results_dir"]) / f"{name}.json").parent, "results folder")
    t0 = time.perf_counter()
    core.stored_networks(reset=True)
    out = sp.run(cfg)
    # the stored networks the run read (those its units read on other processes, the page lists itself)
    read = sorted(set(core.stored_networks(reset=True)) | set((out.get("extra") or {}).get("networks", [])))
    if read:
        out["extra"] = {**(out.get("extra") or {}), "networks": read}
    return cfg, out, time.perf_counter() - t0


NO_ARCHIVE = ("No paper-scale run of this page is archived yet: the numbers below are the quick profile's. "
              "`oodrepro run {page} --profile paper` with the data under `OODREPRO_DATA_ROOT` runs it; "
              "`oodrepro archive add` keeps it.")


def page_code(name: str) -> str:
    """The fingerprint of the code behind page ``name``: its runner and texts with everything they import
    (an archived run whose fingerprint differs is *stale*)."""
    from ..fingerprint import fingerprint

    sp = spec(name)
    return fingerprint(*(f for f in (sp.run, sp.texts) if f is not None))


def _archived(sp: PageSpec, page: Page) -> tuple[Page | None, str]:
    """The archived paper-scale run of the page (None on the paper profile itself, or without one) and
    the sentence to show in its place."""
    if page.cfg.get("profile") == "paper":
        return None, "This page ran the paper profile itself: its numbers are below."
    try:
        got = archive.load(sp.name, code=page_code(sp.name))
    except OodreproError as exc:
        return None, f"The archived paper-scale run of this page was refused: {exc}"
    if got is None:
        return None, NO_ARCHIVE.format(page=sp.name)
    doc = got["doc"]
    a = Page(sp.name, doc["meta"]["params"], doc, None)
    a.archive_entry, a.stale = got["entry"], got["stale"]
    return a, ""


def glue_archive(sp: PageSpec, page: Page, keys) -> None:
    """Glue the paper-scale section: every key of the quick run as ``paper_<key>`` computed by the same
    page code from the archived result file, and ``paper_provenance``; or, with no usable archive, the reason
    in their place (so the page's text never refers to a missing glue key)."""
    page.archived, page.archive_note = _archived(sp, page)
    a = page.archived
    if a is None:
        from IPython.display import Markdown

        for key, value in keys.items():  # the reason is said once, in the provenance box's place
            _glue(f"paper_{key}", "—" if isinstance(value, (str, int, float)) and not key.startswith("tbl_")
                  else Markdown(""))
        _glue("paper_provenance", Markdown(page.archive_note))
        return
    glued = {**a.standard(sp.claims_title, sp.beside_paper), **(sp.texts(a.doc, a.cfg) if sp.texts else {})}
    for key, value in glued.items():  # the archived run's own parameters (its profile: no quick-profile note)
        _glue(f"paper_{key}", as_block(key, value))
    from IPython.display import HTML

    _glue("paper_provenance", HTML(provenance.archive_admonition(a.doc, a.archive_entry, a.stale)))


def run(name: str, namespace: Mapping[str, Any]) -> Page:
    """Execute page ``name`` with the parameters found in ``namespace`` (a notebook's ``globals()``),
    write and read back its result file, glue its numbers; returns the :class:`Page`."""
    sp = spec(name)
    code = page_code(name)  # before the run: the fingerprint of the code that computes its numbers
    cfg, out, wall = execute(name, namespace)
    path = results.write(Path(cfg["results_dir"]) / f"{name}.json", name, cfg, out["rows"],
                         claims=out.get("claims", []), wall_time_s=wall, extra={**(out.get("extra") or {}), "code": code})
    page = Page(name, cfg, results.read(path), path)
    glued = {**page.standard(sp.claims_title, sp.beside_paper), **(sp.texts(page.doc, cfg) if sp.texts else {})}
    for key, value in glued.items():  # a chapter's text may replace a standard entry (each key glued once)
        page.glue(key, as_block(key, value))
    glue_archive(sp, page, glued)
    page.show_provenance()
    return page
