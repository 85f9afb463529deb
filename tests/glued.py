"""Read the values a committed notebook recorded with ``glue`` (myst-nb), for the tests.

Every number that a conclusion of the book rests on is glued by its notebook under a name and
quoted in the prose through that name; ``tests/test_glued_*.py`` check those values against
independent expectations. This module reads them back from the committed ``.ipynb`` files
(no execution): the ``text/plain`` of each output whose metadata carries ``scrapbook.name``.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def notebook_path(chapter: str) -> Path:
    """The notebook whose file name starts with ``chapter`` (e.g. ``"02"``)."""
    found = sorted(NOTEBOOKS.glob(f"{chapter}_*.ipynb"))
    assert len(found) == 1, f"no single notebook for chapter {chapter!r}: {found}"
    return found[0]


@cache
def glued(chapter: str) -> dict[str, Any]:
    """``{name: value}`` of every glued value of a chapter's committed notebook
    (:func:`glued_file` of :func:`notebook_path`)."""
    return glued_file(notebook_path(chapter))


@cache
def glued_file(path: Path) -> dict[str, Any]:
    """``{name: value}`` of every glued value of the committed notebook at ``path``.

    Values are parsed from their ``text/plain`` repr with ``ast.literal_eval`` (numbers,
    strings, tuples, lists, dicts); a value that does not parse is returned as its text.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            text = output.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            name = meta["name"]
            assert name not in out, f"{name!r} glued twice in {Path(path).name}"
            try:
                out[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[name] = text
    return out


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`(?:([^`:]+?)::)?([A-Za-z0-9_.-]+)(?::[^`]*)?`")


def glue_references(text: str) -> list[tuple[str | None, str]]:
    """``(document or None, name)`` of every ``{glue}`` / ``{glue:text}`` role in ``text``."""
    return [(m.group(1), m.group(2)) for m in _GLUE_ROLE.finditer(text)]


def notebook_params(stem: str) -> dict[str, Any]:
    """The parameters ``scripts/run_notebooks.py`` passes to notebook ``stem``:
    ``notebooks/params.yml``'s ``common`` section overlaid by the notebook's own."""
    import yaml

    config = yaml.safe_load((NOTEBOOKS / "params.yml").read_text())
    return {**config.get("common", {}), **(config.get(stem) or {})}


def holm_loop(p: list[float]) -> list[float]:
    """Holm's step-down adjustment, written out independently of the package: sort, multiply the
    i-th smallest (from 0) by m - i, keep the running maximum, cap at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def notebook_run_parameters(chapter: str) -> dict[str, Any]:
    """The parameters a chapter ran with: the literals of its ``parameters`` cell, overlaid by
    :func:`notebook_params` (``params.yml``'s ``common`` and the chapter's own section)."""
    path = notebook_path(chapter)
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    params: dict[str, Any] = {}
    exec("".join(cell["source"]), {}, params)  # the cell is plain assignments of literals
    params.update(notebook_params(path.stem))
    return params
