"""Write the book's configuration with the repository's public address filled in.

Usage: ``python scripts/book_config.py URL OUT`` (``make html RECSYS_REPO_URL=URL`` runs it).

``_config.yml`` has no repository address (there is no public one yet), so the book shows no
repository, bug-tracker or launch button: none may point at a made-up address. This script
is the one place that turns them on: it reads ``_config.yml``, sets ``repository.url`` to
``URL``, turns on ``html.use_repository_button`` and ``html.use_issues_button``, and sets
the launch buttons (Binder for any public git host; Colab only for GitHub, the one host it
opens), then writes the result to ``OUT``, which ``jupyter-book build --config OUT`` reads.
With an empty ``URL`` it writes ``_config.yml`` unchanged, every button off.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Where Binder and Colab open a repository's notebooks.
BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
#: ``https://host/owner/name`` (a trailing ``.git`` or ``/`` is dropped).
_REPO_URL_RE = re.compile(r"^https://(?P<host>[A-Za-z0-9.-]+)/[\w.-]+/[\w.-]+$")


def normalise_repo_url(url: str) -> str:
    """``url`` without a trailing ``/`` or ``.git``; ``""`` stays ``""``.

    Raises:
        ValueError: a non-empty address that is not ``https://host/owner/name``.
    """
    url = url.strip().rstrip("/")
    url = url[: -len(".git")] if url.endswith(".git") else url
    if url and not _REPO_URL_RE.match(url):
        raise ValueError(f"RECSYS_REPO_URL={url!r}: expected https://host/owner/repository")
    return url


def with_repository(config: dict[str, Any], url: str) -> dict[str, Any]:
    """A copy of the book configuration ``config`` whose buttons point at ``url`` (or are off)."""
    url = normalise_repo_url(url)
    out = copy.deepcopy(config)
    html = out.setdefault("html", {})
    repository = out.setdefault("repository", {})
    launch = out.setdefault("launch_buttons", {})
    repository["url"] = url
    html["use_repository_button"] = html["use_issues_button"] = bool(url)
    on_github = _REPO_URL_RE.match(url) is not None and url.startswith("https://github.com/")
    launch["binderhub_url"] = BINDERHUB_URL if url else ""
    launch["colab_url"] = COLAB_URL if on_github else ""
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    url, out = args
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    try:
        result = with_repository(config, url)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(yaml.safe_dump(result, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
