"""recsys_utils: the library behind the reproduction book.

Layers, each calling only those below it (``ARCHITECTURE.md`` maps every module):
``data`` (download, verify, parse MovieLens; synthetic twin) -> ``features`` (per-user genre
rows, splits, rating matrices) -> ``cells``, ``models`` and ``batched`` (the estimators) ->
``recommenders`` (one registry of names, one fit / score / recommend adapter) -> ``evaluation``
(metrics, ranking, statistics) -> ``experiments`` (computed once, stored) -> ``interpret`` and
``plots``. ``report`` holds the report's settings and printed numbers; ``errors`` the error
families.

Importing the package is cheap: TensorFlow is only imported by the modules that need it.
"""

__version__ = "0.2.0"
