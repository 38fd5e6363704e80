"""The rendered-book check (``make check-book``): the built HTML opened in headless Chromium.

``python -m oodrepro.bookcheck [_build/html]`` serves the folder on 127.0.0.1 (a free port), opens every
page of the table of contents in headless Chromium (Debian's ``chromium``, driven by playwright with
``executable_path``: no browser download) in a 1400 × 900 window and reports, per page:

* a console error or an uncaught script error;
* a request that left 127.0.0.1 (every such request is *blocked*: the check runs with the network cut,
  so typeset maths proves that MathJax is served by the book itself) or a local file that failed to load;
* an ``<img>`` that has not loaded (``naturalWidth == 0``);
* raw LaTeX (``$$``, ``\\(``, ``\\[``, ``\\begin``) left in the visible text once MathJax has finished,
  or maths on a page without MathJax;
* glue that did not resolve (``{glue`` text, or myst-nb's "glue key not found" marker);
* an internal link whose target file does not exist;
* a table or figure wider than the text column that does not sit in a horizontal scroll box;
* a table a reader cannot read: a raw column name (``auroc_se``, ``delta_auroc``) or a column of NaN only.

A full-page screenshot of each page goes to ``_build/screens/``. Exit status 0 when every page is
clean, 1 with one line per problem (``FAIL <page>: <problem>``), 2 when Chromium or playwright is
missing (one line saying how to install them — never a silent pass).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

CHROMIUM_ENV = "OODREPRO_CHROMIUM"
INSTALL_HINT = ("check-book needs headless Chromium and playwright: apt-get install -y chromium "
                "(Debian/Ubuntu; or set OODREPRO_CHROMIUM=/path/to/chrome) and pip install playwright "
                "(part of the dev extra: make env)")
RAW_LATEX = ("$$", "\\(", "\\)", "\\[", "\\begin{")
VIEWPORT = {"width": 1400, "height": 900}


class BrowserMissing(RuntimeError):
    """No Chromium binary or no playwright package: the check cannot run here."""


def find_chromium() -> str:
    """The Chromium binary: ``$OODREPRO_CHROMIUM``, else ``chromium``/``chromium-browser``/``google-chrome``
    on the PATH; :class:`BrowserMissing` (with :data:`INSTALL_HINT`) when there is none."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise BrowserMissing(f"{CHROMIUM_ENV}={env} is not an executable file. {INSTALL_HINT}")
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(f"no Chromium found on this machine. {INSTALL_HINT}")


def toc_pages(html_dir: Path, toc: Path | None) -> list[str]:
    """The pages of the table of contents as paths relative to ``html_dir`` (``book/intro.html``…)."""
    import yaml

    if toc is not None and not Path(toc).is_file():
        raise FileNotFoundError(f"table of contents {toc} not found; pass --toc with the book's _toc.yml")
    if toc is None:
        return sorted(str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")
                      if not any(part.startswith(("_", ".")) for part in p.relative_to(html_dir).parts))
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for k in ("root", "file"):
                if isinstance(node.get(k), str):
                    files.append(node[k])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    try:
        walk(yaml.safe_load(Path(toc).read_text()))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"table of contents {toc} is not readable YAML ({first})") from None
    if not files:
        raise ValueError(f"table of contents {toc} names no page (no 'root' or 'file' entry)")
    return [re.sub(r"\.(md|ipynb|rst)$", "", f) + ".html" for f in dict.fromkeys(files)]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the check prints its own report
        pass


def serve(html_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``html_dir`` on 127.0.0.1 at a free port, in a daemon thread; returns (server, base URL)."""
    handler = functools.partial(_Quiet, directory=str(html_dir))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


# One script run in the page once MathJax is done: every measurement the checks need.
_PROBE = r"""
() => {
  const main = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const col = main.getBoundingClientRect();
  const imgs = [...document.querySelectorAll('img')].filter(i => i.closest('article, main'))
      .map(i => ({src: i.getAttribute('src') || '', ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const scrolls = el => { for (let e = el; e && e !== main.parentElement; e = e.parentElement) {
      const s = getComputedStyle(e); if (['auto', 'scroll'].includes(s.overflowX) && e.getBoundingClientRect().right <= col.right + 1) return true; }
    return false; };
  const wide = [...main.querySelectorAll('table, img, figure, svg')].map(e => [e, e.getBoundingClientRect()])
      .filter(([e, r]) => r.width > 0 && r.right > col.right + 2 && !scrolls(e))
      .map(([e, r]) => ({tag: e.tagName.toLowerCase(), over: Math.round(r.right - col.right),
                         what: (e.querySelector && e.querySelector('caption') ? e.querySelector('caption').textContent : e.getAttribute('src') || e.className || '').slice(0, 60)}));
  const mathNodes = document.querySelectorAll('span.math, div.math').length;
  return {imgs, links, wide, mathNodes, mathjax: !!window.MathJax};
}
"""

# Run after the screenshot: it removes code, scripts and typeset maths from the page, then reads what
# a reader sees (innerText skips hidden elements), sidebar and all.
_VISIBLE_TEXT = r"""
() => { document.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml, textarea, .MathJax')
          .forEach(e => e.remove());
        return document.body.innerText; }
"""

# Every table of the article: its header cells and its body cells column by column.
_TABLES = r"""
() => [...(document.querySelector('article.bd-article') || document.body).querySelectorAll('table')].map(t => {
  const heads = [...t.querySelectorAll('thead th')].map(th => th.innerText.trim());
  const rows = [...t.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()));
  const caption = t.querySelector('caption') ? t.querySelector('caption').innerText.slice(0, 50) : '';
  return {heads, rows, caption};
})
"""

#: a header that is a variable name (``auroc_se``, ``delta_auroc``), not a label a reader can read
RAW_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
EMPTY_CELLS = {"nan", "none", "", "<na>"}


def _table_problems(tables: list[dict]) -> list[str]:
    """Tables a reader cannot read: a raw column name, or a column whose every body cell is NaN / empty."""
    out = []
    for t in tables:
        where = f" (table '{t['caption']}')" if t.get("caption") else ""
        out += [f"raw column name {h!r} in a table{where}" for h in t["heads"] if RAW_NAME.match(h)]
        rows = [r for r in t["rows"] if r]
        width = max((len(r) for r in rows), default=0)
        for j in range(width):
            cells = [r[j].lower() for r in rows if j < len(r)]
            if len(rows) > 1 and cells and all(c in EMPTY_CELLS for c in cells) and any(c == "nan" for c in cells):
                out.append(f"a table column holds only NaN{where}")
                break
    return out


_MATHJAX_DONE = """async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  await MathJax.startup.promise; } return true; }"""


def _text_problems(text: str) -> list[str]:
    out = []
    for token in RAW_LATEX:
        i = text.find(token)
        if i >= 0:
            out.append(f"raw LaTeX {token!r} in the visible text: …{' '.join(text[max(0, i - 40):i + 40].split())}…")
    for pat in (r"\{glue[:}a-z]*", r"No key .{1,60}? found in glue data", r"<glue key"):
        m = re.search(pat, text, flags=re.I)
        if m:
            out.append(f"unresolved glue: …{' '.join(text[max(0, m.start() - 40):m.end() + 40].split())}…")
    m = re.search(r"System Message: \w+/\d", text)
    if m:  # a build warning kept on the page (keep_warnings: true in _config.yml)
        out.append(f"build warning on the page: …{' '.join(text[m.start():m.end() + 120].split())}…")
    return out


def _link_problems(links: list[str], base: str, html_dir: Path) -> list[str]:
    out = []
    for href in dict.fromkeys(links):
        u = urlparse(href)
        if u.scheme not in ("http", "https") or not href.startswith(base):
            continue  # external links, mailto:, data: — not the book's own files
        rel = unquote(u.path)[len(urlparse(base).path):]
        target = html_dir / rel
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            out.append(f"internal link to a missing file: {rel}")
    return out


def check_page(pw_page, url: str, base: str, html_dir: Path, shot: Path) -> list[str]:
    """Open one page and return its problems (empty list: clean); saves its screenshot to ``shot``."""
    problems: list[str] = []
    pw_page.on("console", lambda m: problems.append(f"console {m.type}: {m.text[:200]}")
               if m.type == "error" else None)
    pw_page.on("pageerror", lambda e: problems.append(f"script error: {str(e)[:200]}"))
    pw_page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url[len(base):] if r.url.startswith(base) else r.url}")
               if not r.url.startswith("data:") else None)
    resp = pw_page.goto(url, wait_until="load", timeout=60_000)
    if resp is None or resp.status >= 400:
        return [f"page does not load (HTTP {resp.status if resp else '—'})"]
    pw_page.evaluate(_MATHJAX_DONE)
    pw_page.wait_for_timeout(200)
    probe = pw_page.evaluate(_PROBE)
    if probe["mathNodes"] and not probe["mathjax"]:
        problems.append(f"{probe['mathNodes']} formula(s) but MathJax did not load")
    problems += [f"image not loaded: {i['src']}" for i in probe["imgs"] if not i["ok"]]
    problems += _link_problems(probe["links"], base, html_dir)
    problems += [f"{w['tag']} wider than the text column by {w['over']} px without a scroll box ({w['what']})"
                 for w in probe["wide"]]
    problems += _table_problems(pw_page.evaluate(_TABLES))
    shot.parent.mkdir(parents=True, exist_ok=True)
    pw_page.screenshot(path=str(shot), full_page=True)
    problems += _text_problems(pw_page.evaluate(_VISIBLE_TEXT))
    return list(dict.fromkeys(problems))


def check(html_dir, toc=None, screens=None, chromium: str | None = None, only=None) -> dict[str, list[str]]:
    """Check every page of the table of contents (or the pages ``only`` names); returns {page: problems}
    (all pages, clean ones with an empty list)."""
    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").exists():
        raise FileNotFoundError(f"{html_dir}/index.html does not exist: build the book first (make book)")
    pages = only or toc_pages(html_dir, Path(toc) if toc else None)  # a bad toc fails before the browser starts
    exe = chromium or find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing(f"the playwright package is not installed. {INSTALL_HINT}") from None
    screens = Path(screens) if screens else html_dir.parent / "screens"
    srv, base = serve(html_dir)
    report: dict[str, list[str]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
            ctx = browser.new_context(viewport=VIEWPORT)
            blocked: list[str] = []

            def route(r):  # the network is cut: only the local server answers
                if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                    return r.continue_()
                blocked.append(r.request.url)
                return r.abort()

            ctx.route("**/*", route)
            for rel in pages:
                page = ctx.new_page()
                blocked.clear()
                probs = check_page(page, urljoin(base, rel), base, html_dir,
                                   screens / (rel.replace("/", "__").removesuffix(".html") + ".png"))
                report[rel] = probs + [f"request outside 127.0.0.1 blocked: {u}" for u in dict.fromkeys(blocked)]
                page.close()
            browser.close()
    finally:
        srv.shutdown()
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oodrepro.bookcheck", description=__doc__.splitlines()[0])
    ap.add_argument("html", nargs="?", default="_build/html", help="the built book (default _build/html)")
    ap.add_argument("--toc", default=None, help="table of contents listing the pages (default _toc.yml when it "
                    "exists, else every page of the built book)")
    ap.add_argument("--screens", default=None, help="folder for screenshots (default: _build/screens)")
    args = ap.parse_args(argv)
    toc = args.toc if args.toc is not None else ("_toc.yml" if Path("_toc.yml").is_file() else None)
    try:
        report = check(args.html, toc, args.screens)
    except BrowserMissing as exc:
        print(f"check-book: NOT RUN — {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"check-book: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("check-book: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"check-book: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    bad = {p: v for p, v in report.items() if v}
    for page, probs in bad.items():
        for pr in probs:
            print(f"FAIL {page}: {pr}")
    shots = Path(args.screens) if args.screens else Path(args.html).resolve().parent / "screens"
    print(f"check-book: {len(report) - len(bad)} of {len(report)} pages clean; screenshots in {shots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
