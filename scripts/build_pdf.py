"""The whole book as one PDF: ``make pdf`` (writes ``_build/pdf/book.pdf``).

Usage: ``python scripts/build_pdf.py [--html _build/html] [--out _build/pdf/book.pdf]
[--copy-to _build/html/book.pdf | --no-copy]``

From the HTML book that ``make html`` built (the same sources, nothing re-executed, the same
figure and table numbers and glued values):

1. the article of every page of ``_toc.yml``, in its order, is put into one page (in a folder
   of the site at the same depth as the pages, so that their relative links to images, styles
   and MathJax still resolve), each page starting on a new sheet;
2. that page is opened in headless Chromium (``scripts/headless_chromium.py``, the browser of
   the book's tests, which refuses every network request), its images loaded and MathJax left
   to typeset every formula, and printed to A4 with ``Page.printToPDF``.

Why not Jupyter Book's ``singlehtml`` builder: it is a second full Sphinx build of the book
(as long as the HTML one), and printing its page failed in Chromium, where printing the
HTML book's own pages does not.

The PDF is also copied next to the HTML book (``_build/html/book.pdf``), where the
"Reproducing" page links to it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from headless_chromium import Chromium, DevToolsError, find_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Seconds the images and MathJax get to finish before the page is printed.
RENDER_TIMEOUT_S = 180
#: The folder of the site the one-page book is written to (same depth as book/, notebooks/).
PRINT_FOLDER = "_print"
#: Each page of the book starts on a new sheet; the site's navigation is not printed.
PRINT_CSS = """
section.book-pdf-page + section.book-pdf-page { break-before: page; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content { display: none !important; }
"""

SETTLE_JS = """
(async () => {
  for (const img of document.images) { if (img.loading === 'lazy') img.loading = 'eager'; }
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


def toc_pages(root: Path = ROOT) -> list[str]:
    """Every document of ``_toc.yml`` in reading order (root first), without suffix."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return [re.sub(r"\.(md|ipynb)$", "", page) for page in pages]


def book_title(root: Path = ROOT) -> str:
    import yaml

    return str(yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["title"])


def one_page_book(html: Path, pages: list[str], title: str) -> Path:
    """Write every page's article, in order, into ``html/_print/book.html``; its path.

    Raises:
        SystemExit: a page of the table of contents that the HTML build did not write, or one
            without the theme's ``article.bd-article``.
    """
    import bs4

    depths = {page.count("/") for page in pages}
    if len(depths) != 1:
        raise SystemExit(f"the pages are not all at the same folder depth: {sorted(depths)}")
    shell = None
    for page in pages:
        path = html / f"{page}.html"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: build the HTML book first (make html)")
        soup = bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        article = soup.find("article", class_="bd-article")
        if article is None:
            raise SystemExit(f"{path}: no article.bd-article (has the theme changed?)")
        if shell is None:  # the first page's head (styles, scripts, MathJax) serves every page
            shell, body = soup, soup.new_tag("div")
            style = soup.new_tag("style")
            style.string = PRINT_CSS
            soup.head.append(style)
            soup.title.string = title
            target = article
            children = list(article.children)
            article.clear()
            body.extend(children)
        else:
            body = soup.new_tag("div")
            body.extend(list(article.children))
        section = shell.new_tag("section", attrs={"class": "book-pdf-page", "data-page": page})
        section.extend(list(body.children))
        target.append(section)
    out = html / PRINT_FOLDER / "book.html"
    out.parent.mkdir(exist_ok=True)
    out.write_text(str(shell), encoding="utf-8")
    return out


def print_page(page: Path, out: Path) -> dict:
    """Open ``page`` in headless Chromium and print it to ``out``; what was seen, as a dict."""
    binary = find_chromium()
    if binary is None:
        raise SystemExit(
            "no Chromium found: set CHROME_BIN, or install it (Debian: apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="recsys-pdf-") as profile:
        browser = Chromium(binary, Path(profile))
        try:
            report = browser.open(page.as_uri())
            seen = browser.evaluate(
                f"Promise.race([{SETTLE_JS}, new Promise(done => "
                f"setTimeout(() => done(null), {RENDER_TIMEOUT_S * 1000}))])"
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
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built HTML book")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--copy-to", type=Path, default=None, help="default: book.pdf in the HTML book")
    parser.add_argument("--no-copy", action="store_true", help="do not copy the PDF into the HTML book")
    args = parser.parse_args(argv)
    html = args.html.resolve()
    start = time.perf_counter()
    page = one_page_book(html, toc_pages(), book_title())
    try:
        seen = print_page(page, args.out)
    finally:
        shutil.rmtree(page.parent, ignore_errors=True)
    copy_to = None if args.no_copy else (args.copy_to or html / "book.pdf")
    if copy_to:
        shutil.copyfile(args.out, copy_to)
    print(
        f"{args.out}: {seen['bytes'] / 1e6:.1f} MB, {seen['images']} images, "
        f"printed in {time.perf_counter() - start:.0f} s" + (f"; copied to {copy_to}" if copy_to else "")
    )
    if seen["javascript_errors"]:
        print(f"JavaScript errors while printing: {seen['javascript_errors']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
