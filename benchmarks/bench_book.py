"""Execute the whole book cold and record how long each chapter takes.

Cold means what a fresh clone (or CI) sees: an empty experiment store and an empty Numba cache,
both in a temporary folder, so that every result is computed exactly once and every kernel is
compiled. The notebooks are executed with the parameters of ``notebooks/params.yml`` into a
temporary folder (the committed notebooks are not touched), and each notebook's seconds and the
total are written as JSON (default ``benchmarks/results/book_runtime.json``), which the book's
"Reproducing" page shows.

Usage (from the repository root, with RECSYS_DATA_DIR naming a folder that holds ml-1m/)::

    .venv/bin/python benchmarks/bench_book.py [--out benchmarks/results/book_runtime.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "book_runtime.json")
    parser.add_argument("--only", nargs="*", default=None, help="notebook number prefixes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recsys-cold-") as tmp:
        env = {
            **os.environ,
            "RECSYS_STORE_DIR": str(Path(tmp) / "store"),
            "NUMBA_CACHE_DIR": str(Path(tmp) / "numba"),
        }
        command = [
            sys.executable,
            str(ROOT / "scripts" / "run_notebooks.py"),
            "--output-dir",
            str(Path(tmp) / "executed"),
            "--record",
            str(args.out),
        ]
        if args.only:
            command += ["--only", *args.only]
        return subprocess.run(command, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
