"""Build the whole book as one PDF: ``make pdf`` (writes ``_build/pdf/book.pdf``).

Usage: ``python scripts/build_pdf.py [--out _build/pdf/book.pdf] [--path-output _build/pdf-site]
[--copy-to _build/html/book.pdf | --no-copy]``

Two steps, from the same sources as the HTML book and without re-executing anything:

1. ``jupyter-book build . --builder singlehtml``: every page of ``_toc.yml`` on one HTML page
   (the strict ``-n -W`` check is the HTML build's; this one only has to render);
2. that page opened in headless Chromium (``scripts/headless_chromium.py``, the browser of the
   book's tests, refusing every network request), MathJax left to typeset every formula, and
   printed to A4 with ``Page.printToPDF``.

The PDF is also copied next to the HTML book (``--copy-to``, default ``_build/html/book.pdf``
when ``_build/html`` exists), where the "Reproducing" page links to it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from headless_chromium import Chromium, DevToolsError, find_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 1800
#: Seconds MathJax and the images get to finish before the page is printed.
RENDER_TIMEOUT_S = 120

SETTLE_JS = """
(async () => {
  for (const img of document.images) { if (img.loading === 'lazy') img.loading = 'eager'; }
  // Collapsed cells (hide-input, hide-output) print as their toggle: leave them so.
  await Promise.all(Array.from(document.images).map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
  })));
  if (document.querySelector('script[src*="mathjax"]')) {
    while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
      await new Promise(done => setTimeout(done, 100));
    }
    await window.MathJax.startup.promise;
  }
  return {images: document.images.length,
          broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length,
          title: document.title};
})()
"""


def jupyter_book() -> str:
    beside = Path(sys.executable).with_name("jupyter-book")
    found = str(beside) if beside.is_file() else shutil.which("jupyter-book")
    if not found:
        raise SystemExit("jupyter-book is not installed (pip install -e '.[book]')")
    return found


def build_single_page(path_output: Path) -> Path:
    """Run the ``singlehtml`` build into ``path_output``; the one page it writes."""
    command = [jupyter_book(), "build", str(ROOT), "--builder", "singlehtml", "--path-output", str(path_output)]
    print("==", " ".join(command[1:]), flush=True)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    page = path_output / "_build" / "singlehtml" / "index.html"
    if proc.returncode != 0 or not page.is_file():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"the singlehtml build failed (exit {proc.returncode})")
    return page


def print_page(page: Path, out: Path) -> dict:
    """Open ``page`` in headless Chromium and print it to ``out``; what was seen, as a dict."""
    binary = find_chromium()
    if binary is None:
        raise SystemExit("no Chromium found: set CHROME_BIN, or install it (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="recsys-pdf-") as profile:
        browser = Chromium(binary, Path(profile))
        try:
            report = browser.open(page.as_uri())
            seen = browser.evaluate(
                f"Promise.race([{SETTLE_JS}, new Promise(done => setTimeout(() => done(null), {RENDER_TIMEOUT_S * 1000}))])"
            )
            if seen is None:
                raise DevToolsError(f"images or MathJax did not finish within {RENDER_TIMEOUT_S} s")
            size = browser.print_pdf(out)
        finally:
            browser.close()
    if report.blocked:
        raise SystemExit(f"the book asked for the network while printing: {report.blocked}")
    if seen["broken"]:
        raise SystemExit(f"{seen['broken']} of {seen['images']} images did not load")
    return seen | {"bytes": size, "javascript_errors": report.exceptions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--path-output", type=Path, default=ROOT / "_build" / "pdf-site")
    parser.add_argument("--copy-to", type=Path, default=None, help="default: _build/html/book.pdf if _build/html exists")
    parser.add_argument("--no-copy", action="store_true", help="do not copy the PDF anywhere")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    page = build_single_page(args.path_output.resolve())
    built_s = time.perf_counter() - start
    seen = print_page(page, args.out)
    copy_to = args.copy_to or ((ROOT / "_build" / "html").is_dir() and ROOT / "_build" / "html" / "book.pdf")
    copy_to = None if args.no_copy else copy_to
    if copy_to:
        shutil.copyfile(args.out, copy_to)
    print(
        f"{args.out}: {seen['bytes'] / 1e6:.1f} MB, {seen['images']} images; "
        f"built in {built_s:.0f} s, printed in {time.perf_counter() - start - built_s:.0f} s"
        + (f"; copied to {copy_to}" if copy_to else "")
    )
    if seen["javascript_errors"]:
        print(f"JavaScript errors while printing: {seen['javascript_errors']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
