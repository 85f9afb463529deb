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
  error, and the report-in-brief page has its equations.

Skips, each with its reason (failures under ``RECSYS_REQUIRE_REALDATA=1``, as in CI): the build
when the chapter notebooks listed in ``_toc.yml`` do not exist yet; the browser tests when no
Chromium binary is installed (Debian: ``apt-get install chromium``).

The browser is driven over the Chrome DevTools protocol with ``websocket-client``. It never
reaches the network: every request outside ``file://`` is refused and recorded, so a page that
needs a CDN (MathJax included: the build serves it from its own ``_static/mathjax/``, see
``recsys_utils.sphinx_ext``) fails the tests.

Environment overrides: ``RECSYS_BOOK_ROOT`` (the book to build; default: this repository),
``CHROME_BIN`` (the browser binary), ``RECSYS_BOOK_SCREENSHOTS`` (a folder where a PNG
screenshot of each page is written, to look at the pages by eye).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_ROOT = Path(os.environ.get("RECSYS_BOOK_ROOT", REPO_ROOT)).resolve()
BUILD_TIMEOUT_S = 1200
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


def toc_pages(root: Path) -> list[str]:
    """Every document of ``_toc.yml`` (root first), as paths without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return [re.sub(r"\.(md|ipynb)$", "", page) for page in pages]


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
    returncode: int
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
    proc = subprocess.run(
        command,
        cwd=out,
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
# The browser: headless Chromium over the DevTools protocol
# --------------------------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,1000",
)


def find_chromium() -> str | None:
    if os.environ.get("CHROME_BIN"):
        return shutil.which(os.environ["CHROME_BIN"]) or (
            os.environ["CHROME_BIN"] if Path(os.environ["CHROME_BIN"]).is_file() else None
        )
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class DevToolsError(RuntimeError):
    pass


@dataclass
class PageReport:
    url: str
    blocked: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


class Chromium:
    """A headless Chromium with one tab, driven over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path):
        import websocket  # websocket-client

        self.profile = profile
        # noqa reason: the log lives as long as the browser and is closed in close()
        self.log = open(profile / "chromium.log", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                *CHROMIUM_FLAGS,
                "--remote-debugging-port=0",
                f"--user-data-dir={profile / 'user-data'}",
                "about:blank",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        port_file = profile / "user-data" / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                self.log.seek(0)
                raise DevToolsError(
                    "Chromium did not start: " + self.log.read().decode(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=120, suppress_origin=True
        )
        self.next_id = 0
        self.report = PageReport(url="about:blank")
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method, params in [
            ("Page.enable", {}),
            ("Runtime.enable", {}),
            ("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            (
                "Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            ),
        ]:
            self.call(method, params, session=self.session)

    # -- protocol ----------------------------------------------------------------------

    def _send(self, method, params=None, session=None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        return self.next_id

    def call(self, method, params=None, session=None):
        wanted = self._send(method, params, session)
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._on_event(message)

    def _on_event(self, message):
        method, params = message["method"], message.get("params", {})
        if method == "Fetch.requestPaused":
            self._on_request(params)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.report.exceptions.append(f"{text} ({details.get('url', '')})")

    def _on_request(self, params):
        request_id, url = params["requestId"], params["request"]["url"]
        if url.startswith(("file:", "data:", "blob:", "about:", "chrome:", "devtools:")):
            self._send("Fetch.continueRequest", {"requestId": request_id}, self.session)
        else:
            # The site must not need the network: refuse, and remember what was asked for.
            self.report.blocked.append(url)
            self._send(
                "Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"}, self.session
            )

    # -- pages -------------------------------------------------------------------------

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
            },
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> PageReport:
        self.report = PageReport(url=url)
        navigation = self.call("Page.navigate", {"url": url}, session=self.session)
        if navigation.get("errorText"):
            raise DevToolsError(f"could not open {url}: {navigation['errorText']}")
        loaded = self.evaluate(
            "new Promise(done => { if (document.readyState === 'complete') done(true);"
            " else { window.addEventListener('load', () => done(true), {once: true});"
            " setTimeout(() => done(false), 60000); } })"
        )
        if not loaded:
            raise DevToolsError(f"{url} did not finish loading within 60 s")
        return self.report

    def screenshot(self, path: Path):
        data = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=self.session
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            if getattr(self, "ws", None) is not None:
                with contextlib.suppress(Exception):
                    self._send("Browser.close")
                self.ws.close()
        finally:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
            self.log.close()


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
    browser = Chromium(binary, tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.close()


@pytest.mark.slow
def test_pages_render_in_chromium(book_build: Build, chromium: Chromium):
    screenshots = os.environ.get("RECSYS_BOOK_SCREENSHOTS")
    problems = []
    for page in built_pages(book_build):
        report = chromium.open(book_build.page_html(page).as_uri())
        images = chromium.evaluate(IMAGES_JS)
        errors = chromium.evaluate(ERRORS_JS)
        if screenshots:
            Path(screenshots).mkdir(parents=True, exist_ok=True)
            chromium.screenshot(Path(screenshots) / (page.replace("/", "__") + ".png"))
        if images["broken"]:
            problems.append(
                f"{page}: {len(images['broken'])} of {images['count']} images did not load: "
                f"{images['broken']} (requests refused: {report.blocked})"
            )
        if errors:
            problems.append(f"{page}: error or stderr output shown: {errors}; {_HOW_TO_FIX}")
        if report.exceptions:
            problems.append(f"{page}: JavaScript errors: {report.exceptions}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_mathjax_renders(book_build: Build, chromium: Chromium):
    assert REPORT_PAGE in book_build.pages, f"{REPORT_PAGE} is not in _toc.yml"
    problems, formulas = [], {}
    for page in built_pages(book_build):
        report = chromium.open(book_build.page_html(page).as_uri())
        result = chromium.evaluate(MATHJAX_JS)
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
