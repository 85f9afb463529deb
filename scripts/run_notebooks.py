"""Execute the book's notebooks with papermill, parameters from ``notebooks/params.yml``.

Usage: ``python scripts/run_notebooks.py [--only 01 02 book/runtime.ipynb] [--set epochs=5 ...]
[--output-dir DIR] [--record FILE]``

Notebooks run in place (outputs committed), each in its own kernel with its own folder as
working directory: first the chapters (``notebooks/NN_*.ipynb``, in name order), then the
book's computed pages (``book/*.ipynb``, e.g. ``book/runtime.ipynb``, which shows
``benchmarks/results/book_runtime.json``). ``--only`` takes chapter number prefixes or paths
of notebooks (relative to the repository root). A book page gets only the parameters of its own
section of ``params.yml`` (if any), never the chapters' ``common`` ones. No path is passed as a parameter: the notebooks find
the data through ``RECSYS_DATA_DIR`` or the cache (downloading it if needed), so no path of
this machine ends up in the committed outputs. The cell papermill injects with the
parameters is tagged ``remove-cell``: the book shows the chapter's own parameters cell only, and
the downloaded notebook keeps both. ``--record FILE`` writes each notebook's seconds and the
total as JSON (``benchmarks/bench_book.py`` uses it for the book's runtime table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BOOK_PAGES = ROOT / "book"


def all_notebooks() -> list[Path]:
    """The chapters in name order, then the book's computed pages in name order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(BOOK_PAGES.glob("*.ipynb"))


def select_notebooks(only: list[str] | None) -> list[Path]:
    """``only`` (chapter prefixes such as ``02``, or notebook paths) applied to :func:`all_notebooks`.

    Raises:
        SystemExit: a path that is not a notebook of the book.
    """
    paths = all_notebooks()
    if not only:
        return paths
    chosen = []
    for item in only:
        if "/" in item or item.endswith(".ipynb"):
            path = (ROOT / item).with_suffix(".ipynb").resolve()
            if path not in paths:
                raise SystemExit(f"--only {item}: not one of the book's notebooks")
            chosen.append(path)
        else:
            chosen += [p for p in paths if p.parent == NOTEBOOKS and p.name.startswith(item)]
    return [p for p in paths if p in chosen]


def load_parameters(name: str, path: Path = NOTEBOOKS / "params.yml", *, common: bool = True) -> dict:
    """The parameters of notebook ``name`` (its stem): ``common`` (unless ``common=False``, as
    for a book page) overlaid by its own section."""
    config = yaml.safe_load(path.read_text()) or {}
    params = dict(config.get("common") or {}) if common else {}
    params.update(config.get(name) or {})
    return params


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell ``remove-cell`` (kept in the file, not shown)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
            changed = True
    if changed:
        nbformat.write(nb, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="chapter number prefixes (01 03) or notebook paths (book/runtime.ipynb)",
    )
    parser.add_argument("--set", nargs="*", default=[], help="override parameters: key=value")
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="write executed copies there instead of in place"
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help="write each notebook's seconds and the total to this JSON file",
    )
    args = parser.parse_args(argv)

    import papermill as pm

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    paths = select_notebooks(args.only)
    if not paths:
        print("no notebook matches", file=sys.stderr)
        return 1
    overrides = _parse_set(args.set)
    start = time.perf_counter()
    if any(path.parent == NOTEBOOKS for path in paths):  # a book page alone compiles nothing
        from recsys_utils.batched import warm_cache

        warm_cache()  # every kernel then loads the same compiled code (see recsys_utils.batched.jit)
    compile_s = round(time.perf_counter() - start, 1)
    seconds: dict[str, float] = {}
    for path in paths:
        chapter = path.parent == NOTEBOOKS
        params = load_parameters(path.stem, common=chapter) | (overrides if chapter else {})
        out = (args.output_dir / path.name) if args.output_dir else path
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"== {path.name} {params}", flush=True)
        start = time.perf_counter()
        pm.execute_notebook(
            str(path.relative_to(ROOT)),
            str(out if args.output_dir else path.relative_to(ROOT)),
            parameters=params,
            cwd=str(path.parent),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
        )
        seconds[path.stem] = round(time.perf_counter() - start, 1)
        hide_injected_parameters(out)
        print(f"   done in {seconds[path.stem]:.0f} s", flush=True)
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "notebooks_s": seconds,
            "kernel_compile_s": compile_s,
            "total_s": round(compile_s + sum(seconds.values()), 1),
            "overrides": overrides,
            "cpu_cores": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"),
        }
        args.record.write_text(json.dumps(record, indent=2) + "\n")
        print(f"timings written to {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
