"""A Sphinx extension for the book: a quiet TensorFlow import, and MathJax served by the build.

- The API page (book/api.md) documents modules that import TensorFlow, whose C++ start-up
  writes notes straight to the process's stderr; the strict build would report them as
  warnings, so TensorFlow is imported quietly first.
- The book loads MathJax from its own ``_static/mathjax/`` folder rather than a CDN, so it reads
  offline and never asks a third party for a script: after an HTML build, MathJax 3's
  self-contained ``tex-svg-full.js`` is copied there from the ``django-static-mathjax`` package
  (MathJax's files packaged for pip; Apache 2.0, no dependencies). ``_config.yml`` points
  ``mathjax_path`` at it.
- The bibliography lists its entries under author-year labels ("Harper and Konstan 2015"),
  matching the author-year citations in the text, instead of numbers
  (``bibtex_default_style: authoryear`` in ``_config.yml``).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

#: The MathJax 3 component the book loads (TeX input, SVG output, every TeX extension built in:
#: no fonts or further files to fetch).
MATHJAX_COMPONENT = "tex-svg-full.js"
#: Where it lands in the built site, relative to ``_static`` (``mathjax_path`` in _config.yml).
MATHJAX_TARGET = Path("mathjax") / MATHJAX_COMPONENT


def mathjax_source() -> Path:
    """The MathJax component file of the installed ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    origin = Path(spec.origin).parent if spec and spec.origin else None
    path = origin / "static" / "mathjax" / "es5" / MATHJAX_COMPONENT if origin else None
    if path is None or not path.is_file():
        raise RuntimeError(
            "the book serves MathJax itself, from the pip package django-static-mathjax, which is "
            "not installed: pip install -e '.[book]'"
        )
    return path


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / MATHJAX_TARGET
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mathjax_source(), target)


def _last_names(entry: Any) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    if not names:
        return entry.fields.get("title", entry.key).split(":")[0]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def register_author_year_style() -> None:
    """Register the pybtex formatting style ``authoryear``: unsrt's entries, labelled
    "Last 2015" / "Last and Other 2015" / "Last et al. 2015" (a, b, ... for repeats)."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [f"{_last_names(e)} {e.fields.get('year', 'n.d.')}" for e in sorted_entries]
            seen: dict[str, int] = {}
            for label in labels:
                seen[label] = seen.get(label, 0) + 1
            count: dict[str, int] = {}
            for label in labels:
                if seen[label] > 1:
                    count[label] = count.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[count[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


def setup(app: Any) -> dict[str, bool]:
    from recsys_utils.environment import quiet_tensorflow

    quiet_tensorflow()
    mathjax_source()  # fail at the start of the build, not after it
    register_author_year_style()
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
