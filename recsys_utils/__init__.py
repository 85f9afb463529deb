"""recsys_utils: the library behind the reproduction book.

Data flows left to right through small modules:
``data`` (download, verify, parse MovieLens; ``synthetic`` twin) -> ``features``
(per-user genre rows, splits, rating matrices) -> ``cells`` and ``models``
(the recommenders) -> ``evaluation`` (protocols, baselines, metrics, timings).

Importing the package is cheap: TensorFlow is only imported by the modules
that need it (``cells``, ``models``).
"""

__version__ = "0.1.0"
