"""The scorecard by scale and the reproduction report: what the book's two summary pages show.

Two sources of verdicts, never mixed:

* **paper scale** — the archived paper-profile runs (:mod:`oodrepro.archive`): the only verdicts the
  headline counts and the ours-vs-paper figures are made of;
* **this build** — the result files the executed pages of this build wrote under ``results_dir``
  (the quick profile in the book; smoke in the tests): shown in their own columns, never counted in the
  headline.

A claim is one :func:`oodrepro.results.claim` record; its ``id`` is made by the page's code (e.g.
``"knn_ls-vs-knn-mnist5k-hflip"`` in :func:`oodrepro.engine.claims.directional_claim`) and is unique within
its page, not across pages, so the two sources are joined on ``(page, id)`` exactly. Ids that name the data
(most of knn-ls and kpca) differ between the profiles — the quick profile's ``mnist5k`` pairings are not the
paper's — so such a claim has a verdict in one column only.

``notebooks/scorecard.ipynb`` calls :func:`page`; ``notebooks/reproduction.ipynb`` calls :func:`reproduction`.
Every table is built here; the notebooks only place them.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import archive, results
from .cache import write_atomic
from .errors import OodreproError

PAPER = "paper scale"
BUILD = "this build"
KEY = ["page", "claim id"]

#: The joined scorecard's columns (labels a reader reads: they are the table's headers and the CSV's).
COLUMNS = ["chapter", "page", "claim id", "claim", "paper", f"{PAPER}: ours", f"{PAPER}: verdict",
           f"{PAPER}: archive", f"{BUILD}: ours", f"{BUILD}: verdict", f"{BUILD}: profile", "why"]
STALE = "stale (older code)"
#: The chapter of claims beyond the papers (the cross-paper grid): listed, never counted with the papers' claims
BEYOND = "beyond"
#: How the scorecard's sentences introduce that chapter's counts (kept apart from the papers')
BEYOND_HEAD = f"**Beyond the papers** (chapter `{BEYOND}`: findings no paper states, counted apart)"
CURRENT = "current"


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


# ---------------------------------------------------------------------------------------------- the archive


@dataclass
class Archive:
    """The archive as the summary pages read it: every usable run, and every refused one with its reason.

    ``runs``: page → ``{"doc", "entry", "stale"}`` (:func:`oodrepro.archive.load`); ``refused``: page →
    one line (a tampered or missing file, an unreadable manifest: ``"(manifest)"``)."""

    runs: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)

    @property
    def docs(self) -> list[dict]:
        return [self.runs[p]["doc"] for p in sorted(self.runs)]

    def stale_pages(self) -> list[str]:
        return sorted(p for p, r in self.runs.items() if r["stale"])

    def notes(self) -> list[str]:
        """One line per refused or stale archive (empty when every archived run is current and intact)."""
        out = [f"The archived run of {p} was refused: {why}" if p != "(manifest)"
               else f"The archive was refused: {why}" for p, why in sorted(self.refused.items())]
        out += [f"The archived run of {p} is stale: the page's code changed since it was archived (commit "
                f"{self.runs[p]['entry'].get('commit') or '?'}); its verdicts come from the older code."
                for p in self.stale_pages()]
        return out


def _code(name: str) -> str | None:
    """The page's code fingerprint now (None for a page this package no longer has: not compared)."""
    from .engine.page import page_code

    try:
        return page_code(name)
    except OodreproError:
        return None


def read_archive(base=None) -> Archive:
    """Load every archived page; a page whose files fail their sha256 (or cannot be read) is refused with
    one line instead of stopping the page."""
    out = Archive()
    try:
        names = archive.pages(base)
    except OodreproError as exc:
        out.refused["(manifest)"] = _one_line(exc)
        return out
    for name in names:
        try:
            got = archive.load(name, base, code=_code(name))
        except OodreproError as exc:
            out.refused[name] = _one_line(exc)
            continue
        if got is not None:
            out.runs[name] = got
    return out


# -------------------------------------------------------------------------------------------- claims, joined


def claims_of(docs) -> pd.DataFrame:
    """One row per claim of the result documents: chapter, page, claim id, claim, paper, ours, verdict,
    why, profile. A page that repeats an id gets ``#2``, ``#3`` … on the repeats, so the join stays one to one."""
    recs = []
    for doc in docs:
        profile = str(doc["meta"].get("profile") or doc["meta"].get("params", {}).get("profile") or "")
        seen: dict = {}
        for c in doc.get("claims", []):
            page = c.get("page") or doc["notebook"]
            cid = str(c.get("id", ""))
            n = seen[(page, cid)] = seen.get((page, cid), 0) + 1
            recs.append({"chapter": results.chapter_of(page), "page": page,
                         "claim id": cid if n == 1 else f"{cid}#{n}", "profile": profile,
                         **{k: c.get(k) or "" for k in ("claim", "paper", "ours", "verdict", "why")}})
    return pd.DataFrame(recs, columns=["chapter", "page", "claim id", "claim", "paper", "ours", "verdict", "why",
                                       "profile"])


def by_scale(results_dir, arch: Archive | None = None) -> pd.DataFrame:
    """Every claim, one row per ``(page, claim id)``: the paper's value, the archived paper-scale run's
    value and verdict (and whether that archive is stale), and this build's value, verdict and profile.

    A claim that only one source tested has empty cells in the other's columns."""
    arch = read_archive() if arch is None else arch
    paper = claims_of(arch.docs)
    paper["archive"] = [STALE if arch.runs[p]["stale"] else CURRENT for p in paper["page"]]
    build = claims_of(results.collect(results_dir))
    j = paper.merge(build, on=KEY, how="outer", suffixes=("_p", "_b"), sort=False).astype(object)
    first = lambda a, b: j[a].where(j[a].notna() & (j[a] != ""), j[b]).fillna("")  # noqa: E731
    out = pd.DataFrame({"chapter": first("chapter_p", "chapter_b"), "page": j["page"], "claim id": j["claim id"],
                        "claim": first("claim_p", "claim_b"), "paper": first("paper_p", "paper_b"),
                        f"{PAPER}: ours": j["ours_p"].fillna(""), f"{PAPER}: verdict": j["verdict_p"].fillna(""),
                        f"{PAPER}: archive": j["archive"].fillna(""), f"{BUILD}: ours": j["ours_b"].fillna(""),
                        f"{BUILD}: verdict": j["verdict_b"].fillna(""), f"{BUILD}: profile": j["profile_b"].fillna(""),
                        "why": first("why_p", "why_b")}, columns=COLUMNS)
    return out.sort_values(["chapter", "page"], kind="stable").reset_index(drop=True)


def headline(table: pd.DataFrame) -> dict:
    """The counts at the top of the scorecard — from the paper-scale column only: claims per verdict,
    ``tested`` (claims with a paper-scale verdict), ``stale`` (of those, from a stale archive),
    ``untested`` (claims of this build without a paper-scale verdict; ``untested_unarchived`` of them on
    pages with no archived claim) and ``pages`` (archived pages with claims). The papers' claims only: the
    findings of chapter ``beyond`` are counted apart, as ``beyond_tested`` and ``beyond_`` + verdict."""
    far = table[table["chapter"] == BEYOND]
    table = table[table["chapter"] != BEYOND]
    v = table[f"{PAPER}: verdict"]
    at = table[v != ""]
    out = {verdict: int((v == verdict).sum()) for verdict in results.VERDICTS}
    archived_pages = set(at["page"])
    untested = table[v == ""]
    out.update(tested=len(at), stale=int((at[f"{PAPER}: archive"] == STALE).sum()), untested=len(untested),
               untested_unarchived=int((~untested["page"].isin(archived_pages)).sum()),
               pages=len(archived_pages))
    fv = far[f"{PAPER}: verdict"]
    out.update({f"beyond_{verdict}": int((fv == verdict).sum()) for verdict in results.VERDICTS},
               beyond_tested=int((fv != "").sum()))
    return out


def _counts_text(counts: dict) -> str:
    return (f"{counts['reproduced']} reproduced, {counts['not reproduced']} not reproduced, "
            f"{counts['inconclusive']} inconclusive and {counts['needs data']} waiting for data")


# ------------------------------------------------------------------------------------------------ the cells


def percent_tables_as_cells(doc: dict) -> dict:
    """``doc`` with every table that gives AUROC in % as ``auroc`` beside the paper's ``paper_auroc`` (kpca's
    summaries, :func:`oodrepro.experiments.kpca.common.summary`) rewritten in the shape
    :func:`oodrepro.results.cells_of` reads — ours as ``mean``, the paper's as ``paper``, both as AUROC in [0, 1]
    like every other chapter's cells (the FPR95 and Δ columns dropped); other tables unchanged."""
    out = dict(doc)
    for key, val in doc.items():
        if key in ("meta", "claims") or not isinstance(val, list) or not val or not isinstance(val[0], dict):
            continue
        df = pd.DataFrame(val)
        if {"auroc", "paper_auroc"} <= set(df.columns) and "paper" not in df.columns:
            keys = [c for c in df.columns if c not in ("auroc", "auroc_se", "fpr95", "paper_auroc", "delta_auroc",
                                                       "paper_fpr95", "delta_fpr95", "n_seeds")]
            paper = pd.to_numeric(df["paper_auroc"], errors="coerce") / 100
            out[key] = df[keys].assign(mean=df["auroc"] / 100, paper=paper,
                                       n_seeds=df["n_seeds"] if "n_seeds" in df else None).to_dict("records")
    return out


def cells_by_scale(results_dir, arch: Archive) -> pd.DataFrame:
    """Every table cell with a paper value: the archived runs' (source ``archive``, what the figures draw)
    and this build's (source ``this build``), with :func:`oodrepro.results.cells`' columns; kpca's AUROC in % is
    read as AUROC (:func:`percent_tables_as_cells`)."""
    a = results.cells_of([percent_tables_as_cells(d) for d in arch.docs])
    b = results.cells_of([percent_tables_as_cells(d) for d in results.collect(results_dir)])
    return pd.concat([a.assign(source="archive"), b.assign(source=BUILD)], ignore_index=True)[
        ["source", *a.columns]]


# ---------------------------------------------------------------------------------------------- display


def csv_link(df: pd.DataFrame, filename: str, text: str) -> str:
    """A download link that carries the CSV itself (works offline, from any copy of the HTML)."""
    data = base64.b64encode(results.to_csv(df).encode()).decode()
    return f'<a download="{filename}" href="data:text/csv;base64,{data}">{text}</a>'


def linked(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its ``page`` column as links to the pages (the summary pages sit beside the chapters)."""
    out = df.copy()
    out["page"] = [f'<a href="{p}.html">{p}</a>' for p in df["page"]]
    return out


_ITABLES = {"ready": False}


def _itable(df: pd.DataFrame, caption: str, page_length: int = 25) -> None:
    import itables

    if not _ITABLES["ready"]:  # once per kernel: the DataTables bundle (about 1 MB) is embedded in the page, no CDN
        itables.init_notebook_mode(connected=False)
        _ITABLES["ready"] = True
    itables.show(linked(df), connected=False, allow_html=True, classes="display compact", pageLength=page_length,
                 caption=caption)


def figure_html(fig, caption: str) -> str:
    """A matplotlib figure as an HTML ``<figure>`` (PNG inline) with its caption."""
    import html

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<figure class="oodrepro-figure"><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" '
            f'style="max-width: 100%;"/><figcaption>{html.escape(caption)}</figcaption></figure>')


def _md(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def _display(*objs) -> None:
    from IPython.display import display

    display(*objs)


# ------------------------------------------------------------------------------------------- the scorecard

NO_ARCHIVE_FIGURE = ("No paper-scale run is archived yet, so there is no ours-against-the-paper figure: it is "
                     "drawn from archived runs only, never from this build's quick-profile cells.")


@dataclass
class Scorecard:
    """The scorecard page's content: the joined claims table, the archive it came from, every cell."""

    table: pd.DataFrame
    arch: Archive
    cells: pd.DataFrame

    @property
    def counts(self) -> dict:
        return headline(self.table)

    def headline_text(self) -> str:
        """The headline (paper-scale verdicts only), the archive's notes (stale, refused), one per line."""
        c = self.counts
        if c["tested"]:
            papers = self.table[self.table["chapter"] != BEYOND]
            pages = sorted(papers.loc[papers[f"{PAPER}: verdict"] != "", "page"].unique())
            text = (f"**At paper scale:** {c['tested']} claim(s) from {len(pages)} archived page(s) "
                    f"({', '.join(pages)}): {_counts_text(c)}"
                    + (f"; {c['stale']} of them from a stale archive (older code)" if c["stale"] else "") + ".")
        else:
            text = ("**At paper scale:** no claim has a paper-scale verdict yet — no paper-profile run is archived"
                    + (" that could be read" if self.arch.refused else "") + ".")
        if c["untested"]:
            text += f" {c['untested']} claim(s) of this build have no paper-scale run yet"
            other = c["untested"] - c["untested_unarchived"]
            text += (f" ({c['untested_unarchived']} on pages with no archived run, {other} on archived pages whose "
                     "paper-scale run did not test that claim id)." if other else ".")
        if c["beyond_tested"]:
            text += (f" {BEYOND_HEAD}: {c['beyond_reproduced']} of {c['beyond_tested']} claims hold at paper scale, "
                     f"{c['beyond_not reproduced']} go the other way and {c['beyond_inconclusive']} are inconclusive"
                     + (f"; {c['beyond_needs data']} wait for data" if c["beyond_needs data"] else "") + ".")
        return "\n\n".join([text, *self.arch.notes()])

    def build_text(self) -> str:
        """This build's verdicts, in a sentence of their own (never part of the headline)."""
        every = self.table[self.table[f"{BUILD}: verdict"] != ""]
        b, beyond = every[every["chapter"] != BEYOND], every[every["chapter"] == BEYOND]
        if not len(every):
            return "This build wrote no result file with claims (run the chapters' pages first)."
        counts = {v: int((b[f"{BUILD}: verdict"] == v).sum()) for v in results.VERDICTS}
        profiles = ", ".join(sorted(set(b[f"{BUILD}: profile"]) - {""})) or "unknown"
        text = (f"This build ({profiles} profile) tested {len(b)} claim(s) of the papers on {b['page'].nunique()} "
                f"page(s): {_counts_text(counts)}. Those runs use embedded data and fewer images and seeds than the "
                f"papers; their verdicts are in the *{BUILD}* columns and are not counted above.")
        if len(beyond):
            held = int((beyond[f"{BUILD}: verdict"] == "reproduced").sum())
            text += f" {BEYOND_HEAD}: {held} of {len(beyond)} claims hold on this build."
        return text

    def write_csvs(self, results_dir) -> None:
        """``scorecard.csv`` (the joined table) and ``cells.csv`` beside the result files."""
        for name, df in (("scorecard.csv", self.table), ("cells.csv", self.cells)):
            write_atomic(results.output_path(Path(results_dir) / name), results.to_csv(df))

    def glue(self) -> None:
        from myst_nb import glue

        glue("headline", _md(self.headline_text()), display=False)
        glue("build_line", _md(self.build_text()), display=False)
        for k, v in self.counts.items():
            glue(f"n_{str(k).replace(' ', '_')}", v, display=False)

    def show_claims(self) -> None:
        """The download links and the sortable table of every claim."""
        from IPython.display import HTML

        _display(HTML(csv_link(self.table, "oodrepro_scorecard.csv", "Download the scorecard (CSV)") + " · " +
                      csv_link(self.cells, "oodrepro_cells.csv",
                               "Download every table cell, ours and the paper's, archived and this build's (CSV)")))
        _itable(self.table, caption=(
            "Every claim, one row per page and claim id. paper = the paper's values (transcribed reference tables "
            f"in oodrepro/reference/); {PAPER}: ours / verdict = the archived paper-profile run (archive: current, "
            f"or stale when the page's code changed since); {BUILD}: ours / verdict = this build's run of the page "
            "(its profile beside it); why = how the verdict was reached. An empty cell: that source did not test "
            "the claim (the quick profile's pairings are not the paper's)."))

    def show_figures(self) -> None:
        """One ours-against-the-paper figure per chapter with archived cells, and their table; or one sentence."""
        import matplotlib.pyplot as plt
        from IPython.display import HTML

        arch = self.cells[self.cells["source"] == "archive"].drop(columns="source")
        if not len(arch):
            _display(_md(NO_ARCHIVE_FIGURE))
            return
        for chapter in sorted(arch["chapter"].unique()):
            fig = results.paper_figure(arch, chapter)
            pages = ", ".join(sorted(arch.loc[arch["chapter"] == chapter, "page"].unique()))
            _display(HTML(figure_html(fig, (
                f"{chapter}: ours against the paper's value for every table cell of the archived paper-scale runs "
                f"({pages}) — archived cells only, this build's quick-profile cells are not drawn; y = x and a "
                "±0.02 band."))))
            plt.close(fig)
        _itable(arch.round(4).rename(columns={"delta": "Δ"}), page_length=10,
                caption="Every table cell of the archived paper-scale runs with a paper value: ours, the paper's and "
                        "Δ = ours − paper.")


def build(results_dir, base=None) -> Scorecard:
    """The scorecard of ``results_dir`` (this build) against the archive at ``base`` (default: the project's)."""
    arch = read_archive(base)
    return Scorecard(by_scale(results_dir, arch), arch, cells_by_scale(results_dir, arch))


def page(results_dir, base=None) -> Scorecard:
    """What the scorecard notebook runs: build it, write the CSVs beside the results, glue the headline."""
    card = build(results_dir, base)
    card.write_csvs(results_dir)
    card.glue()
    return card


# ------------------------------------------------------------------------------ the reproduction report


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    s = float(seconds)
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


@dataclass
class Reproduction:
    """The reproduction report page: per chapter, from the archive only."""

    arch: Archive

    def _runs(self, chapter: str) -> list[str]:
        return [p for p in sorted(self.arch.runs) if results.chapter_of(p) == chapter]

    def runs(self, chapter: str) -> pd.DataFrame:
        """One row per archived page of ``chapter``: page, when archived, commit, machine, wall time,
        CPU-hours (stored networks' training included), and whether the archive is stale."""
        recs = []
        for p in self._runs(chapter):
            r = self.arch.runs[p]
            e, meta = r["entry"], r["doc"]["meta"]
            cpu = e.get("cpu_seconds")
            recs.append({"page": p, "archived": str(e.get("archived") or "?").replace("T", " ")[:16],
                         "commit": str(e.get("commit") or meta.get("git_commit") or "?"),
                         "machine": str(e.get("machine") or "?"), "wall time": _duration(e.get("wall_seconds")),
                         "CPU-hours": "—" if cpu is None else f"{float(cpu) / 3600:.2f}",
                         "code": STALE if r["stale"] else CURRENT})
        return pd.DataFrame(recs, columns=["page", "archived", "commit", "machine", "wall time", "CPU-hours", "code"])

    def claims(self, chapter: str) -> pd.DataFrame:
        """The paper-scale claims of ``chapter``: page, claim, paper, ours, verdict and why."""
        c = claims_of(self.arch.runs[p]["doc"] for p in self._runs(chapter))
        c["why"] = [w or ("no data for it on the machine that ran the archive" if v == "needs data" else "—")
                    for w, v in zip(c["why"], c["verdict"])]
        order = {v: i for i, v in enumerate(results.VERDICTS)}
        c = c.assign(_o=c["verdict"].map(order)).sort_values(["_o", "page"], kind="stable")
        return c[["page", "claim", "paper", "ours", "verdict", "why"]].reset_index(drop=True)

    def needs_data(self, chapter: str) -> pd.DataFrame:
        """The data sets the archived runs of ``chapter`` marked *needs data*, with the pages that wanted them."""
        from .provenance import data_used

        sets: dict[str, list[str]] = {}
        for p in self._runs(chapter):
            for name in data_used(self.arch.runs[p]["doc"])["missing"]:
                sets.setdefault(name, []).append(p)
        return pd.DataFrame([{"data set": k, "pages": ", ".join(v)} for k, v in sorted(sets.items())],
                            columns=["data set", "pages"])

    def summary_text(self) -> str:
        n, notes = len(self.arch.runs), self.arch.notes()
        if not n:
            text = "The archive holds no paper-scale run yet: every chapter below says so."
        else:
            cpu = sum(float(r["entry"].get("cpu_seconds") or 0) for r in self.arch.runs.values())
            text = (f"{n} page(s) archived at paper scale, {cpu / 3600:.1f} CPU-hours in all; "
                    f"{len(self.arch.stale_pages())} of them stale.")
        return "\n\n".join([text, *notes])

    def glue(self) -> None:
        from myst_nb import glue

        glue("report_summary", _md(self.summary_text()), display=False)

    def show(self, chapter: str) -> None:
        """The chapter's section: its archived runs, its claims at paper scale, the data it lacked; or one
        sentence when nothing of it is archived."""
        from .report import styled

        if not self._runs(chapter):
            _display(_md(f"No paper-scale run of {chapter} is archived yet, so nothing of it is reported here."))
            return
        runs, claims, missing = self.runs(chapter), self.claims(chapter), self.needs_data(chapter)
        machines = runs["machine"].unique()
        where = "the machine it ran on"
        if len(machines) == 1:  # one machine for every run: said once, not on every row
            runs, where = runs.drop(columns="machine"), f"all on {machines[0]}"
        _display(styled(linked(runs), f"Archived paper-scale runs of {chapter}: when each was archived (UTC), its commit "
                              f"({where}), its wall time and CPU time (CPU-hours include the training of the stored "
                              "networks it used); code = stale when the page's code changed since.", index=False))
        counts = {v: int((claims["verdict"] == v).sum()) for v in results.VERDICTS}
        claims, rules = numbered_rules(claims)
        _display(styled(linked(claims), f"Claims of {chapter} at paper scale: {_counts_text(counts)}. paper = the paper's "
                                "value; ours = the archived run's; why = the rule behind the verdict"
                                + "".join(f"; rule {n}: {text}" for n, text in rules) + ".",
                        index=False, verdicts=True))
        if len(missing):
            _display(styled(missing, f"Data sets the archived runs of {chapter} did not have (their rows and claims "
                                     "read needs data).", index=False))
        else:
            _display(_md(f"Every data set the archived runs of {chapter} asked for was there."))


def numbered_rules(claims: pd.DataFrame, at_least: int = 3) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """``claims`` with every ``why`` that recurs ``at_least`` times written ``rule N``, and ``[(N, text)]`` for the
    caption: the table says each rule once instead of on every row."""
    freq = claims["why"].value_counts()
    common = [w for w in dict.fromkeys(claims["why"]) if freq[w] >= at_least]
    number = {w: n for n, w in enumerate(common, 1)}
    out = claims.assign(why=[f"rule {number[w]}" if w in number else w for w in claims["why"]])
    return out, [(n, w.rstrip(".")) for w, n in number.items()]


def reproduction(base=None) -> Reproduction:
    """What the reproduction report notebook runs: read the archive at ``base`` and glue its summary."""
    rep = Reproduction(read_archive(base))
    rep.glue()
    return rep


__all__ = ["Archive", "read_archive", "claims_of", "by_scale", "headline", "cells_by_scale", "Scorecard", "build",
           "page", "Reproduction", "reproduction", "csv_link", "linked", "figure_html", "COLUMNS"]
