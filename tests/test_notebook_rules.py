"""House rules of the committed chapters, checked without executing them.

- every ``{glue}`` reference in the book's Markdown (chapters and ``book/*.md``) names a value
  that the referenced notebook glued, so the prose quotes only computed numbers;
- a cell checked by nbval (``nbval-check-output``) holds no image and no glued value: nbval
  compares text, and figures or full-precision floats are not portable between machines;
- the pages carry no words about how the project is run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.glued import ROOT, glue_references, glued, glued_file, notebook_path

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BOOK_PAGES = sorted((ROOT / "book").glob("*.md"))
FORBIDDEN = re.compile(r"NOT met|\bworking cop(?:y|ies)\b|\bthe issue\b|\bissue \d+|\btarget (?:NOT )?met\b")


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def chapter_of(doc: str | None, page: Path) -> str:
    if doc is None:
        assert page.suffix == ".ipynb", f"{page.name}: a glue reference without a notebook path"
        return page.name[:2]
    return Path(doc).name[:2]


@pytest.mark.parametrize("page", NOTEBOOKS + BOOK_PAGES, ids=lambda p: p.name)
def test_every_glue_reference_resolves(page: Path):
    missing = []
    for doc, name in glue_references(markdown_of(page)):
        if doc is not None and not re.match(r"\d\d_", Path(doc).name):
            values = glued_file((page.parent / doc).resolve())  # a page of the book, not a chapter
        else:
            chapter = chapter_of(doc, page)
            notebook_path(chapter)  # the document exists
            values = glued(chapter)
        if name not in values:
            missing.append(f"{doc or page.name}::{name}")
    assert not missing, f"{page.name} quotes values that were never glued: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_hold_neither_images_nor_glued_values(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = []
    for i, cell in enumerate(nb["cells"]):
        if "nbval-check-output" not in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            keys = set(out.get("data", {}))
            if any(k.startswith("image/") for k in keys) or "scrapbook" in out.get("metadata", {}):
                bad.append(i)
        if re.search(r"^\s*glue\(", "".join(cell["source"]), re.MULTILINE):
            bad.append(i)
    assert not bad, f"{path.name}: checked cells {sorted(set(bad))} hold an image or a glued value"


@pytest.mark.parametrize("page", NOTEBOOKS + BOOK_PAGES, ids=lambda p: p.name)
def test_pages_speak_to_readers(page: Path):
    found = FORBIDDEN.findall(markdown_of(page))
    if page.suffix == ".ipynb":
        nb = json.loads(page.read_text(encoding="utf-8"))
        outputs = [
            json.dumps({k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")})
            + "".join(o.get("text", ""))
            for c in nb["cells"]
            for o in c.get("outputs", [])
        ]
        found += FORBIDDEN.findall("\n".join(outputs))
    assert not found, f"{page.name} says {sorted(set(found))}: words about the project, not for readers"


def test_the_glue_reference_parser():
    text = "a {glue:text}`ch02_x:.2f` b {glue}`../notebooks/03_y.ipynb::ch03_z` {glue:text}`k`"
    assert glue_references(text) == [(None, "ch02_x"), ("../notebooks/03_y.ipynb", "ch03_z"), (None, "k")]
