"""The Jupyter Book builds strictly, and its pages render cleanly in a real browser.

One strict build per session (``jupyter-book build -n -W --keep-going`` into a temporary
folder) is shared by every test here:

- ``test_book_builds``: the build exits cleanly and writes a page for every entry of
  ``_toc.yml``;
- ``test_no_error_output_in_html``: no page carries a rendered traceback or stderr output
  (a static scan of the HTML, no browser needed);
- ``test_pages_render_in_chromium``: every page, opened in headless Chromium, loads all its
  images, shows no error or stderr output and raises no JavaScript error;
- ``test_mathjax_renders``: MathJax typesets every formula of every page, without a TeX
  error, and the report-in-brief page has its equations;
- what a reader would notice, every page read at a laptop's size (1366x768):
  ``test_every_figure_has_a_caption`` (and no image outside a figure, logos aside),
  ``test_nothing_overflows_the_column_at_laptop_width`` (a table may scroll sideways inside
  the theme's scrollable box, which keeps the page still; a figure must fit; the page itself
  never scrolls sideways), ``test_glued_values_render`` (no glue role or build message left as
  text, one non-empty value per ``{glue:text}`` role of the source),
  ``test_pages_show_no_traceback_build_path_or_project_words``;
- ``test_no_repository_or_launch_button_without_an_address``: ``_config.yml`` names no
  repository, so no button points at one (``test_a_repository_address_turns_the_buttons_on``
  checks the other way, through ``scripts/book_config.py`` and Jupyter Book's configuration);
- ``test_make_pdf_writes_the_whole_book``: ``scripts/build_pdf.py`` (``make pdf``) prints the
  built book to a PDF with the book's title and at least two sheets per document.

Every page is opened once, in one browser session, and measured by one script per concern
(``IMAGES_JS``, ``ERRORS_JS``, ``MATHJAX_JS``, ``READER_JS``); the reader checks are plain
Python functions of what ``READER_JS`` measured, and crafted pages show that each of them fails
on what it is meant to catch (``test_the_reader_checks_fail_on_a_crafted_page``) and passes a
clean page.

Skips, each with its reason (failures under ``RECSYS_REQUIRE_REALDATA=1``, as in CI): the build
when the chapter notebooks listed in ``_toc.yml`` do not exist yet; the browser tests when no
Chromium binary is installed (Debian: ``apt-get install chromium``).

The browser (``scripts/headless_chromium.py``, shared with ``make pdf``) is driven over the
Chrome DevTools protocol with ``websocket-client``. It never
reaches the network: every request outside ``file://`` is refused and recorded, so a page that
needs a CDN (MathJax included: the build serves it from its own ``_static/mathjax/``, see
``recsys_utils.sphinx_ext``) fails the tests.

Environment overrides: ``RECSYS_BOOK_ROOT`` (the book to build; default: this repository),
``RECSYS_BOOK_HTML`` (check that already built ``_build/html`` instead of building),
``CHROME_BIN`` (the browser binary), ``RECSYS_BOOK_SCREENSHOTS`` (a folder where a PNG
screenshot of each page is written, to look at the pages by eye).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from build_pdf import toc_pages  # noqa: E402  (scripts/ is not a package)
from headless_chromium import (  # noqa: E402
    CHROMIUM_NAMES,
    Chromium,
    PageReport,
    find_chromium,
)

#: The window the pages are read in: a laptop's screen.
LAPTOP_VIEWPORT = (1366, 768)
BOOK_ROOT = Path(os.environ.get("RECSYS_BOOK_ROOT", REPO_ROOT)).resolve()
BUILD_TIMEOUT_S = 1200
#: A site built beforehand (its ``_build/html``) to check instead of building one.
PREBUILT_ENV = "RECSYS_BOOK_HTML"
REPORT_PAGE = "book/report_in_brief"

#: What myst-nb renders for an error output ("output traceback") and for a stderr
#: stream ("output stderr"); the others cover older renderers (nbsphinx, classic
#: notebook HTML) should the book ever switch.
ERROR_OUTPUT_SELECTOR = ", ".join(
    [
        ".output.traceback",
        ".output.stderr",
        ".output.error",
        ".cell_output .traceback",
        ".cell_output .stderr",
        ".output_error",
        ".output_stderr",
    ]
)
_ERROR_CLASS_RE = re.compile(
    r'class="[^"]*\b(?:output (?:traceback|stderr|error)|output_error|output_stderr)\b[^"]*"'
)
_HOW_TO_FIX = (
    "fix the cell at its source and re-execute the notebook; for an expected message, "
    "tag the cell `remove-stderr` (stderr) or `remove-output`"
)


# --------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------


def page_source(root: Path, page: str) -> Path | None:
    for suffix in (".md", ".ipynb"):
        if (root / f"{page}{suffix}").is_file():
            return root / f"{page}{suffix}"
    return None


def jupyter_book_command() -> list[str]:
    beside = Path(sys.executable).with_name("jupyter-book")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")


@dataclass
class Build:
    root: Path
    pages: list[str]
    html: Path
    returncode: int | None  # None: a site built beforehand (RECSYS_BOOK_HTML)
    output: str
    seconds: float

    def page_html(self, page: str) -> Path:
        return self.html / f"{page}.html"


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> Build:
    pages = toc_pages(BOOK_ROOT)
    missing = [page for page in pages if page_source(BOOK_ROOT, page) is None]
    missing_notebooks = [page for page in missing if page.startswith("notebooks/")]
    if missing_notebooks:
        pytest.skip(
            "the chapter notebooks listed in _toc.yml do not exist yet: " + ", ".join(missing_notebooks)
        )
    assert not missing, f"pages listed in _toc.yml are missing: {missing}"
    if os.environ.get(PREBUILT_ENV):
        html = Path(os.environ[PREBUILT_ENV]).resolve()
        assert (html / "index.html").is_file(), f"{PREBUILT_ENV}={html} holds no index.html"
        return Build(root=BOOK_ROOT, pages=pages, html=html, returncode=None, output="", seconds=0.0)

    out = tmp_path_factory.mktemp("book")
    command = jupyter_book_command() + [
        "build",
        str(BOOK_ROOT),
        "-n",
        "-W",
        "--keep-going",
        "--path-output",
        str(out),
    ]
    start = time.perf_counter()
    # autodoc documents this checkout's package, whatever else the environment installs
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BOOK_ROOT), os.environ.get("PYTHONPATH")]))
    }
    proc = subprocess.run(
        command,
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - start
    return Build(
        root=BOOK_ROOT,
        pages=pages,
        html=out / "_build" / "html",
        returncode=proc.returncode,
        output=proc.stdout + proc.stderr,
        seconds=seconds,
    )


def built_pages(build: Build) -> list[str]:
    pages = [page for page in build.pages if build.page_html(page).is_file()]
    if not pages:
        pytest.fail(f"the build wrote no page; its output ends with:\n{build.output[-4000:]}")
    return pages


@pytest.mark.slow
def test_book_builds(book_build: Build):
    if book_build.returncode is None:
        pytest.skip(f"{PREBUILT_ENV} names a site built beforehand")
    warnings = [
        line
        for line in book_build.output.splitlines()
        if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b", line)
    ]
    assert book_build.returncode == 0, (
        f"jupyter-book build -n -W failed (exit {book_build.returncode}); warnings:\n"
        + "\n".join(warnings)
        + f"\n--- output tail ---\n{book_build.output[-4000:]}"
    )
    assert not warnings, "the build printed warnings:\n" + "\n".join(warnings)
    missing = [page for page in book_build.pages if not book_build.page_html(page).is_file()]
    assert not missing, f"no HTML page was written for: {missing}"
    assert (book_build.html / "index.html").is_file()
    print(f"book built in {book_build.seconds:.1f} s")


@pytest.mark.slow
def test_no_error_output_in_html(book_build: Build):
    found = {}
    for page in built_pages(book_build):
        text = book_build.page_html(page).read_text(encoding="utf-8")
        hits = _ERROR_CLASS_RE.findall(text)
        if hits:
            found[page] = hits
    assert not found, f"error or stderr outputs in the rendered pages {found}: {_HOW_TO_FIX}"


# --------------------------------------------------------------------------------------
# The browser: headless Chromium over the DevTools protocol (scripts/headless_chromium.py)
# --------------------------------------------------------------------------------------


IMAGES_JS = """
(async () => {
  const images = Array.from(document.images);
  for (const img of images) { if (img.loading === 'lazy') img.loading = 'eager'; }
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  })));
  return {
    count: images.length,
    broken: images.filter(img => !(img.complete && img.naturalWidth > 0))
                  .map(img => img.getAttribute('src') || img.outerHTML.slice(0, 200)),
  };
})()
"""

# noqa reason: %s keeps the JavaScript's braces as they are (no {{ }} doubling)
ERRORS_JS = """
Array.from(document.querySelectorAll(%s)).map(e => ({
  classes: e.className, text: (e.innerText || '').trim().slice(0, 300)
}))
""" % json.dumps(ERROR_OUTPUT_SELECTOR)  # noqa: UP031

MATHJAX_JS = """
(async () => {
  const math = Array.from(document.querySelectorAll('.math'));
  const script = document.querySelector('script[src*="mathjax"]');
  if (!script) {
    return {loaded: null, formulas: math.length};  // Sphinx adds MathJax to pages with math only
  }
  const deadline = Date.now() + 30000;
  while (!(window.MathJax && window.MathJax.version && window.MathJax.startup
           && window.MathJax.startup.promise)) {
    if (Date.now() > deadline) return {loaded: false, formulas: math.length};
    await new Promise(done => setTimeout(done, 100));
  }
  await window.MathJax.startup.promise;
  // TeX errors: an merror node, or (MathJax's "noundefined" extension) an undefined
  // macro's name typeset as red text.
  const errors = Array.from(document.querySelectorAll(
      'mjx-merror, mjx-assistive-mml mtext[mathcolor="red"], mjx-mtext[style*="color: red"]'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent.trim());
  const named = Array.from(new Set(errors.filter(e => e)));
  return {
    loaded: true,
    src: script.getAttribute('src'),
    version: window.MathJax.version,
    formulas: math.length,
    unrendered: math.filter(e => !e.querySelector('mjx-container'))
                    .map(e => e.textContent.trim().slice(0, 120)),
    errors: errors.length && !named.length ? ['a TeX error'] : named,
  };
})()
"""

#: What a reader sees of a page, measured in the browser (judged in Python below): the
#: figures and their captions, images outside figures, tables and figures wider than the
#: content column, glued values, and the page's visible text.
READER_JS = """
(() => {
  const article = document.querySelector('article.bd-article, article, main') || document.body;
  const column = article.getBoundingClientRect();
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const what = e => (e.id ? '#' + e.id + ' ' : '') + e.tagName.toLowerCase() + ': '
      + ((e.innerText || '').trim() || e.getAttribute('src') || '').replace(/\\s+/g, ' ').slice(0, 80);
  const scroller = e => {
    for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return a;
    }
    return null;
  };
  const outside = r => r.right > column.right + 1 || r.left < column.left - 1;
  const figures = Array.from(article.querySelectorAll('figure, div.figure')).map(f => {
    const caption = f.querySelector('figcaption, .caption, caption');
    return {what: what(f), caption: caption ? caption.innerText.trim() : null};
  });
  const bare_images = Array.from(article.querySelectorAll('img'))
    .filter(i => !i.closest('figure, div.figure'))
    .filter(i => !/logo/i.test((i.className || '') + ' ' + (i.getAttribute('alt') || '')))
    .map(i => (i.getAttribute('src') || '').slice(0, 120));
  const overflowing = [], scrolling = [];
  for (const e of article.querySelectorAll('table, figure, div.figure, figure img, div.figure img')) {
    if (!shown(e)) continue;
    const box = scroller(e);
    const inFigure = e.tagName === 'IMG' || e.tagName === 'FIGURE' || e.classList.contains('figure');
    if (box && !inFigure) {
      // the theme's scrollable container: it must fit the column; the table may scroll in it
      if (outside(box.getBoundingClientRect())) overflowing.push(what(e) + ' (its scrollable box is wider than the column)');
      else if (e.scrollWidth > box.clientWidth + 1) scrolling.push(what(e));
    } else if (outside(e.getBoundingClientRect()) || e.scrollWidth > e.clientWidth + 1) {
      overflowing.push(what(e) + ` (${Math.round(e.getBoundingClientRect().width)} px wide, the column ${Math.round(column.width)} px)`);
    }
  }
  const prose = article.cloneNode(true);  // the text outside code (which may quote a role)
  prose.querySelectorAll('code, pre, .highlight, .cell_input').forEach(e => e.remove());
  return {
    viewport: [window.innerWidth, window.innerHeight],
    column: Math.round(column.width),
    page_scrolls: document.documentElement.scrollWidth > window.innerWidth + 1,
    figures: figures,
    bare_images: bare_images,
    overflowing: overflowing,
    scrolling: scrolling,
    pasted: Array.from(article.querySelectorAll('.pasted-text')).map(e => e.textContent.trim()),
    system_messages: Array.from(article.querySelectorAll('.system-message, .problematic'))
                       .map(e => e.textContent.trim().slice(0, 200)),
    visible_text: article.innerText,
    prose_text: prose.textContent,
    outputs_text: Array.from(article.querySelectorAll('.cell_output')).map(e => e.textContent).join('\\n'),
    header_links: Array.from(document.querySelectorAll(
        '.bd-header-article a[href], .article-header-buttons a[href], .header-article-items a[href]'))
      .map(a => a.href),
  };
})()
"""


# --------------------------------------------------------------------------------------
# What a reader would notice: the judges, plain functions of what READER_JS measured
# --------------------------------------------------------------------------------------

#: A literal glue role or directive left in the page (myst-nb did not replace it).
LEFTOVER_GLUE_RE = re.compile(r"\{glue(?::\w+)?\}|mystnb\.glue")
#: A Python traceback, printed or rendered.
TRACEBACK_RE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
#: A path of the machine that built the book: its folders, a user's cache (``~/.cache`` as
#: a reader's own folder is fine), an installed package's folder.
BUILD_PATH_RE = re.compile(
    r"(?<![\w~.$])/(?:work|home|tmp|root|Users|private/var)/[^\s]*"
    r"|\b[A-Za-z]:\\Users\\[^\s]*"
    r"|(?<![~\w])[^\s~]*/\.cache/[^\s]*"
    r"|[^\s]*/site-packages/[^\s]*"
)
#: Words about how the project is run, not for readers.
NOISE_RE = re.compile(r"NOT met|(?i:\bworking cop(?:y|ies)\b|\bissues?\b|\btargets?\b|\bsessions?\b)")
#: Where a repository or launch button would point.
BUTTON_HOSTS_RE = re.compile(r"mybinder\.org|colab\.research\.google\.com|github\.com|gitlab\.com")
_GLUE_TEXT_ROLE_RE = re.compile(r"\{glue:text\}`[^`]+`")


def _context(text: str, match: re.Match, width: int = 40) -> str:
    start, end = max(0, match.start() - width), min(len(text), match.end() + width)
    return " ".join(text[start:end].split())


def figure_problems(facts: dict) -> list[str]:
    """Figures without a caption; images shown outside a figure (logos aside)."""
    out = [f"a figure without a caption: {f['what']}" for f in facts["figures"] if not f["caption"]]
    out += [f"an image outside a captioned figure: {src}" for src in facts["bare_images"]]
    return out


def overflow_problems(facts: dict) -> list[str]:
    """Tables and figures wider than the content column (a table may scroll sideways inside the
    theme's scrollable box, which keeps the page itself still; a figure must fit)."""
    width = f"at {facts['viewport'][0]}x{facts['viewport'][1]}"
    out = [f"wider than the content column {width}: {e}" for e in facts["overflowing"]]
    if facts["page_scrolls"]:
        out.append(f"the whole page scrolls sideways {width}")
    return out


def glue_problems(facts: dict, expected_pasted: int) -> list[str]:
    """Glue roles or warnings left as text, and glued values that came out empty or missing."""
    text = facts["prose_text"]
    out = [f"glue left as text: {_context(text, m)!r}" for m in LEFTOVER_GLUE_RE.finditer(text)]
    out += [f"a build message shown in the page: {m!r}" for m in facts["system_messages"]]
    empty = sum(1 for value in facts["pasted"] if not value)
    if empty:
        out.append(f"{empty} glued values rendered empty")
    if len(facts["pasted"]) < expected_pasted:
        out.append(
            f"{expected_pasted} {{glue:text}} roles in the source, {len(facts['pasted'])} values rendered"
        )
    return out


def trace_problems(facts: dict) -> list[str]:
    """Tracebacks and build-machine paths (visible text and every output, collapsed or not);
    words about how the project is run (visible text)."""
    out = []
    for where, text in (("visible text", facts["visible_text"]), ("outputs", facts["outputs_text"])):
        out += [f"a traceback in the {where}: {_context(text, m)!r}" for m in TRACEBACK_RE.finditer(text)]
        out += [
            f"a path of the build machine in the {where}: {m.group(0)!r}"
            for m in BUILD_PATH_RE.finditer(text)
        ]
    text = facts["visible_text"]
    out += [f"{m.group(0)!r} in the visible text: {_context(text, m)!r}" for m in NOISE_RE.finditer(text)]
    return sorted(set(out))


def reader_problems(facts: dict, expected_pasted: int) -> list[str]:
    return (
        figure_problems(facts)
        + overflow_problems(facts)
        + glue_problems(facts, expected_pasted)
        + trace_problems(facts)
    )


def expected_glue_values(root: Path, page: str) -> int:
    """How many ``{glue:text}`` roles the page's shown Markdown holds (each must render a value)."""
    source = page_source(root, page)
    if source is None:
        return 0
    if source.suffix == ".md":
        return len(_GLUE_TEXT_ROLE_RE.findall(source.read_text(encoding="utf-8")))
    nb = json.loads(source.read_text(encoding="utf-8"))
    shown = [
        "".join(cell["source"])
        for cell in nb["cells"]
        if cell["cell_type"] == "markdown" and "remove-cell" not in cell.get("metadata", {}).get("tags", [])
    ]
    return sum(len(_GLUE_TEXT_ROLE_RE.findall(text)) for text in shown)


# --------------------------------------------------------------------------------------
# One browser session: every page opened once, at a laptop's size, every check measured
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    binary = find_chromium()
    if binary is None:
        pytest.skip(
            "no Chromium binary found (looked for CHROME_BIN, "
            + ", ".join(CHROMIUM_NAMES)
            + "); on Debian: apt-get install chromium"
        )
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    browser = Chromium(binary, tmp_path_factory.mktemp("chromium"), viewport=LAPTOP_VIEWPORT)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class PageFacts:
    report: PageReport
    images: dict
    errors: list
    mathjax: dict
    reader: dict


@pytest.fixture(scope="session")
def page_facts(book_build: Build, chromium: Chromium) -> dict[str, PageFacts]:
    screenshots = os.environ.get("RECSYS_BOOK_SCREENSHOTS")
    facts = {}
    for page in built_pages(book_build):
        report = chromium.open(book_build.page_html(page).as_uri())
        images = chromium.evaluate(IMAGES_JS)
        errors = chromium.evaluate(ERRORS_JS)
        mathjax = chromium.evaluate(MATHJAX_JS)  # typeset before measuring widths
        reader = chromium.evaluate(READER_JS)
        if screenshots:
            Path(screenshots).mkdir(parents=True, exist_ok=True)
            chromium.screenshot(Path(screenshots) / (page.replace("/", "__") + ".png"))
        facts[page] = PageFacts(report, images, errors, mathjax, reader)
    return facts


@pytest.mark.slow
def test_pages_render_in_chromium(page_facts: dict[str, PageFacts]):
    problems = []
    for page, facts in page_facts.items():
        images, report = facts.images, facts.report
        if images["broken"]:
            problems.append(
                f"{page}: {len(images['broken'])} of {images['count']} images did not load: "
                f"{images['broken']} (requests refused: {report.blocked})"
            )
        if facts.errors:
            problems.append(f"{page}: error or stderr output shown: {facts.errors}; {_HOW_TO_FIX}")
        if report.exceptions:
            problems.append(f"{page}: JavaScript errors: {report.exceptions}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_mathjax_renders(book_build: Build, page_facts: dict[str, PageFacts]):
    assert REPORT_PAGE in book_build.pages, f"{REPORT_PAGE} is not in _toc.yml"
    problems, formulas = [], {}
    for page, facts in page_facts.items():
        result, report = facts.mathjax, facts.report
        if result["loaded"] is None:
            if result["formulas"]:
                problems.append(f"{page}: {result['formulas']} formulas but no MathJax script")
            continue
        if not result["loaded"]:
            problems.append(
                f"{page}: MathJax did not load (refused: {report.blocked}; "
                f"JavaScript errors: {report.exceptions})"
            )
            continue
        formulas[page] = result["formulas"]
        if "_static/mathjax/" not in result["src"] or "://" in result["src"]:
            problems.append(f"{page}: MathJax comes from {result['src']}, not the build's _static")
        if result["unrendered"]:
            problems.append(f"{page}: formulas MathJax left as text: {result['unrendered']}")
        if result["errors"]:
            problems.append(f"{page}: TeX errors: {result['errors']}")
    assert not problems, "\n".join(problems)
    assert formulas.get(REPORT_PAGE, 0) >= 3, (
        f"expected the cell's equations on {REPORT_PAGE}; formulas per page: {formulas}"
    )


def _problems_on_every_page(page_facts: dict[str, PageFacts], judge) -> list[str]:
    return [
        f"{page}: {problem}" for page, facts in page_facts.items() for problem in judge(page, facts.reader)
    ]


@pytest.mark.slow
def test_every_figure_has_a_caption(page_facts: dict[str, PageFacts]):
    problems = _problems_on_every_page(page_facts, lambda page, facts: figure_problems(facts))
    assert not problems, (
        "show each figure as a captioned {glue:figure} (see the notebooks' conventions):\n"
        + "\n".join(problems)
    )


@pytest.mark.slow
def test_nothing_overflows_the_column_at_laptop_width(page_facts: dict[str, PageFacts]):
    problems = _problems_on_every_page(page_facts, lambda page, facts: overflow_problems(facts))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_glued_values_render(book_build: Build, page_facts: dict[str, PageFacts]):
    problems = _problems_on_every_page(
        page_facts, lambda page, facts: glue_problems(facts, expected_glue_values(book_build.root, page))
    )
    assert not problems, "\n".join(problems)
    assert sum(len(f.reader["pasted"]) for f in page_facts.values()) > 0, "no glued value in the whole book"


@pytest.mark.slow
def test_pages_show_no_traceback_build_path_or_project_words(page_facts: dict[str, PageFacts]):
    problems = _problems_on_every_page(page_facts, lambda page, facts: trace_problems(facts))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_no_repository_or_launch_button_without_an_address(
    book_build: Build, page_facts: dict[str, PageFacts]
):
    """The build reads ``_config.yml`` as committed (no repository address): no button may
    point at a repository, Binder or Colab."""
    if yaml.safe_load((book_build.root / "_config.yml").read_text()).get("repository", {}).get("url"):
        pytest.skip("_config.yml names a repository address")
    found = {
        page: [h for h in facts.reader["header_links"] if BUTTON_HOSTS_RE.search(h)]
        for page, facts in page_facts.items()
    }
    found = {page: links for page, links in found.items() if links}
    assert not found, f"buttons to a repository or a launch service: {found}"
    for page in built_pages(book_build):
        html = book_build.page_html(page).read_text(encoding="utf-8")
        launch = re.search(r"mybinder\.org/v2/|colab\.research\.google\.com/github/", html)
        assert not launch, f"{page} has a launch link: {launch.group(0)}"


# --------------------------------------------------------------------------------------
# The checks can fail: crafted pages, judged by the same code as the book's pages
# --------------------------------------------------------------------------------------

_SVG = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' width='40' height='20'/%3E"
_WIDE_SVG = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' width='1500' height='20'/%3E"
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<header><img class="logo__image" alt="logo" src="{svg}"></header>
<main><article class="bd-article" style="width: 600px">{body}</article></main></body></html>"""
BAD_BODY = """
<figure id="no-caption"><img src="{svg}"></figure>
<p><img src="{svg}" alt="a plot"></p>
<table id="wide" style="width: 2000px"><tr><td>a wide table</td></tr></table>
<figure><img src="{wide}" style="max-width: none"><figcaption><p><span class="caption-text">Wide.</span></p></figcaption></figure>
<p>Accuracy {{glue:text}}`ch02_x:.2f` %, and <span class="pasted-text"></span>.</p>
<div class="system-message">glue warning</div>
<div class="cell_output"><pre>Traceback (most recent call last):
  File "/home/alice/x.py", line 3, in f</pre></div>
<details><summary>output</summary><div class="cell_output"><pre>read /work/data/ml-1m</pre></div></details>
<p>The aim is NOT met in this working copy (issue 4), for the target of the session.</p>
"""
GOOD_BODY = """
<figure><img src="{svg}" style="max-width: 100%"><figcaption><p><span class="caption-number">Fig. 1 </span>
<span class="caption-text">What is plotted.</span></p></figcaption></figure>
<div style="overflow-x: auto"><table style="width: 2000px"><tr><td>scrolls in its box</td></tr></table></div>
<p>Accuracy <span class="pasted-text">84.91</span> %. The data are cached in ~/.cache/recsys_utils.</p>
"""


def _crafted(tmp_path: Path, chromium: Chromium, name: str, body: str) -> dict:
    path = tmp_path / f"{name}.html"
    path.write_text(_PAGE.format(svg=_SVG, body=body.format(svg=_SVG, wide=_WIDE_SVG)), encoding="utf-8")
    chromium.open(path.as_uri())
    chromium.evaluate(IMAGES_JS)
    return chromium.evaluate(READER_JS)


def test_the_reader_checks_fail_on_a_crafted_page(tmp_path, chromium: Chromium):
    bad = _crafted(tmp_path, chromium, "bad", BAD_BODY)
    assert bad["viewport"] == list(LAPTOP_VIEWPORT)
    figures = figure_problems(bad)
    assert any("without a caption" in p and "no-caption" in p for p in figures), figures
    assert any("outside a captioned figure" in p for p in figures), figures
    assert len(figures) == 2, f"the logo outside the article counts as an image: {figures}"
    overflow = overflow_problems(bad)
    assert any("#wide table" in p for p in overflow), overflow
    assert any(p.startswith("wider") and " img" in p for p in overflow), overflow
    glue = glue_problems(bad, expected_pasted=2)
    assert any("glue left as text" in p for p in glue), glue
    assert any("rendered empty" in p for p in glue), glue
    assert any("2 {glue:text} roles in the source, 1 values rendered" in p for p in glue), glue
    assert any("build message" in p for p in glue), glue
    traces = "\n".join(trace_problems(bad))
    assert "a traceback in the visible text" in traces
    assert "'/home/alice/x.py\",'" in traces or "/home/alice/x.py" in traces
    assert "/work/data/ml-1m" in traces, "a path in a collapsed output counts"
    for word in ("'NOT met'", "'working copy'", "'issue'", "'target'", "'session'"):
        assert word in traces, (word, traces)


def test_the_reader_checks_pass_a_clean_crafted_page(tmp_path, chromium: Chromium):
    good = _crafted(tmp_path, chromium, "good", GOOD_BODY)
    assert reader_problems(good, expected_pasted=1) == []
    assert good["scrolling"], "the wide table scrolls inside its box"
    # the page itself made wider than the window: the reader would scroll it sideways
    wide = _crafted(tmp_path, chromium, "wide", '<div style="width: 3000px">x</div>')
    assert any("scrolls sideways" in p for p in overflow_problems(wide))


def test_noise_and_path_patterns():
    assert not NOISE_RE.search("Targeted users; a tissue; NOT METHOD")
    assert NOISE_RE.search("Target met") and NOISE_RE.search("the issues")
    assert not BUILD_PATH_RE.search("in ~/.cache/recsys_utils or $XDG_CACHE_HOME/recsys_utils, /usr/bin")
    for path in (
        "/root/x",
        "C:\\Users\\bob\\x",
        "/opt/venv/lib/python3.11/site-packages/x",
        "/srv/u/.cache/x",
    ):
        assert BUILD_PATH_RE.search(f"read {path} now"), path


# --------------------------------------------------------------------------------------
# The repository address: one setting turns every button on (scripts/book_config.py)
# --------------------------------------------------------------------------------------


def _book_config_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_config", REPO_ROOT / "scripts" / "book_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _theme_options(config: dict) -> dict:
    jb_config = pytest.importorskip("jupyter_book.config")
    sphinx_config, _ = jb_config.get_final_config(
        user_yaml=config, cli_config={"latex_individualpages": False}, sourcedir=REPO_ROOT, validate=True
    )
    return sphinx_config["html_theme_options"]


@pytest.mark.parametrize(
    ("url", "colab"),
    [("https://github.com/someone/recsys-repro.git", True), ("https://gitlab.example.org/a/b/", False)],
)
def test_a_repository_address_turns_the_buttons_on(url, colab):
    book_config = _book_config_module()
    base = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    options = _theme_options(book_config.with_repository(base, url))
    expected = url.removesuffix(".git").rstrip("/")
    assert options["repository_url"] == expected
    assert options["use_repository_button"] is True and options["use_issues_button"] is True
    assert options["launch_buttons"]["binderhub_url"] == book_config.BINDERHUB_URL
    assert options["launch_buttons"]["colab_url"] == (book_config.COLAB_URL if colab else "")


def test_without_an_address_no_button_points_anywhere():
    book_config = _book_config_module()
    base = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    for config in (base, book_config.with_repository(base, "")):
        options = _theme_options(config)
        assert not options.get("repository_url")
        assert not options.get("use_repository_button") and not options.get("use_issues_button")
        launch = options.get("launch_buttons", {})
        assert not launch.get("binderhub_url") and not launch.get("colab_url")
    for bad in ("http://github.com/a/b", "github.com/a/b", "https://github.com/a", "https://x/a/b c"):
        with pytest.raises(ValueError, match="RECSYS_REPO_URL"):
            book_config.with_repository(base, bad)


def test_book_config_writes_a_config_jupyter_book_reads(tmp_path):
    out = tmp_path / "config" / "_config.yml"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "book_config.py"), "https://github.com/a/b", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["repository"]["url"] == "https://github.com/a/b"
    assert written["title"] == yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["title"]
    assert _theme_options(written)["use_repository_button"] is True


# --------------------------------------------------------------------------------------
# The runtime table of the "Reproducing" page
# --------------------------------------------------------------------------------------


def test_the_runtime_table_has_a_row_for_every_chapter_timed():
    """``book/reproducing.md`` quotes ``book/runtime.ipynb``'s glued values: one row per timed
    chapter, every quoted name glued, the values those of ``book_runtime.json``."""
    runtime = json.loads((REPO_ROOT / "benchmarks" / "results" / "book_runtime.json").read_text())
    page = (REPO_ROOT / "book" / "reproducing.md").read_text(encoding="utf-8")
    for stem in runtime["notebooks_s"]:
        if stem[:2].isdigit():
            assert f"runtime.ipynb::runtime_ch{stem[:2]}_s" in page, (
                f"no row for {stem} in book/reproducing.md"
            )
    nb = json.loads((REPO_ROOT / "book" / "runtime.ipynb").read_text(encoding="utf-8"))
    checked = [c for c in nb["cells"] if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert not checked, "timings must never be in checked cells"
    glued = {
        out["metadata"]["scrapbook"]["name"]: "".join(
            out["data"][out["metadata"]["scrapbook"]["mime_prefix"] + "text/plain"]
        )
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if "scrapbook" in out.get("metadata", {})
    }
    quoted = re.findall(r"\{glue:text\}`runtime\.ipynb::([A-Za-z0-9_]+)(?::[^`]*)?`", page)
    assert quoted and set(quoted) <= set(glued), (
        f"never glued by book/runtime.ipynb: {set(quoted) - set(glued)}"
    )
    assert float(glued["runtime_total_s"]) == runtime["total_s"], (
        "book/runtime.ipynb is older than book_runtime.json"
    )
    for stem, seconds in runtime["notebooks_s"].items():
        if stem[:2].isdigit():
            assert float(glued[f"runtime_ch{stem[:2]}_s"]) == seconds


# --------------------------------------------------------------------------------------
# The PDF (make pdf)
# --------------------------------------------------------------------------------------

PDF_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def pdf_title(data: bytes) -> str | None:
    """The document title of a PDF's information dictionary (literal or UTF-16 hex string)."""
    m = re.search(rb"/Title\s*\((?P<lit>(?:[^()\\]|\\.)*)\)|/Title\s*<(?P<hex>[0-9A-Fa-f\s]*)>", data)
    if not m:
        return None
    if m.group("lit") is not None:
        raw = re.sub(rb"\\(.)", rb"\1", m.group("lit"))
        return raw.decode("utf-16") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
    raw = bytes.fromhex(re.sub(rb"\s", b"", m.group("hex")).decode())
    return raw.decode("utf-16") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")


def test_pdf_title_parser():
    assert pdf_title(b"<< /Title (Deep \\(a\\) book) /Producer (Skia) >>") == "Deep (a) book"
    assert pdf_title(b"<</Title <FEFF0044006500650070>>>") == "Deep"
    assert pdf_title(b"<< /Producer (x) >>") is None
    assert len(PDF_PAGE_RE.findall(b"/Type /Pages /Type /Page /Type/Page")) == 2


@pytest.mark.slow
def test_make_pdf_writes_the_whole_book(book_build: Build, tmp_path):
    """``scripts/build_pdf.py`` (what ``make pdf`` runs after ``make html``) prints the built
    book, every page in the order of ``_toc.yml``: a PDF with at least two sheets per document
    whose title is the book's, and (with pypdf) the book's title on its first pages."""
    if find_chromium() is None:
        pytest.skip("no Chromium binary found (CHROME_BIN, or apt-get install chromium)")
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    pytest.importorskip("bs4", reason="beautifulsoup4 (a dependency of the book's theme) is not installed")
    built_pages(book_build)
    out = tmp_path / "pdf" / "book.pdf"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "build_pdf.py"),
            "--html",
            str(book_build.html),
            "--out",
            str(out),
            "--no-copy",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(proc.stdout.strip().splitlines()[-1])
    assert not (book_build.html / "_print").exists(), "the one-page book was left in the site"
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    title = yaml.safe_load((BOOK_ROOT / "_config.yml").read_text(encoding="utf-8"))["title"]
    pages, documents = len(PDF_PAGE_RE.findall(data)), len(toc_pages(BOOK_ROOT))
    assert pages >= 2 * documents, f"only {pages} pages for {documents} documents"
    assert pdf_title(data) == title, f"the PDF's title is {pdf_title(data)!r}"
    try:
        import pypdf
    except ImportError:
        return
    reader = pypdf.PdfReader(out)
    text = " ".join(reader.pages[i].extract_text() for i in range(min(3, len(reader.pages))))
    assert title.split(":")[0] in " ".join(text.split())
