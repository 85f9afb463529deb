"""Named, parameterised experiments whose results are computed once and stored on disk.

Every heavy computation of the book is an experiment here: :func:`user_fit` (one model fitted
for one user and seed, chapters 02-04) and :func:`population_run` (every user's network for
several models and seeds, chapters 05-06, stored per user). A chapter asks for what it needs;
the first to ask computes it, every later one (in any chapter, any process) reads it back.

Why not joblib's ``Memory`` or jupyter-cache (myst-nb's ``nb_execution_mode = "cache"``)?
``Memory`` stores each result with ``joblib.dump``, i.e. pickle, so loading an entry from a
shared or downloaded folder can run arbitrary code; it hashes the arguments by pickling them
(a MovieLens object's 1M rows on every call, and dependent on their order), and it invalidates
on a change of the decorated function's own code only, not of what it calls. jupyter-cache
caches whole executed notebooks keyed by their code cells, so a result is reused only by the
notebook that made it: chapter 04 could not read chapter 02's fits, nor chapter 06 chapter
05's users, and any edit of a cell re-executes the whole notebook. This store is small and
written for the book's needs instead: results are plain data (strict JSON and a NumPy ``.npz``
read with ``allow_pickle=False``), keyed by the experiment's name, its parameters (canonical
JSON), a content fingerprint of the data that ignores row order, the package version and a
digest of the package's code; shared across chapters; per-user shards for population runs.

Guarantees (``store``): entries are written atomically (temporary
folder, then rename) with a manifest of each file's SHA-256; checked on read (a damaged,
partial or tampered entry is recomputed with a :class:`StoreWarning`, never used); a lock per
entry, so two processes computing the same entry compute it once; :meth:`Store.clear` removes
only the store's own entries. The folder: ``Store(root)``, else ``RECSYS_STORE_DIR``, else
``<RECSYS_CACHE_DIR>/experiments``, else ``~/.cache/recsys_utils/experiments``.

Progress of a long computation is only what the computation itself prints (e.g.
``verbose=True``); reading an entry prints nothing.
"""

from recsys_utils.experiments.codec import decode, encode
from recsys_utils.experiments.fingerprint import canonical_params, data_fingerprint, user_rows_fingerprint
from recsys_utils.experiments.population_runs import POPULATION_SHARD, PopulationSpec, population_run
from recsys_utils.experiments.store import (
    STORE_DIR_ENV,
    Cached,
    DamagedEntry,
    EntryInfo,
    Store,
    StoreWarning,
    cached,
    code_digest,
    default_store,
    default_store_dir,
)
from recsys_utils.experiments.summary import clear_store, describe_entries, list_store
from recsys_utils.experiments.user_fits import USER_FIT, UserFit, user_fit

__all__ = [
    "POPULATION_SHARD",
    "STORE_DIR_ENV",
    "USER_FIT",
    "Cached",
    "DamagedEntry",
    "EntryInfo",
    "PopulationSpec",
    "Store",
    "StoreWarning",
    "UserFit",
    "cached",
    "canonical_params",
    "clear_store",
    "code_digest",
    "data_fingerprint",
    "decode",
    "default_store",
    "default_store_dir",
    "describe_entries",
    "encode",
    "list_store",
    "population_run",
    "user_fit",
    "user_rows_fingerprint",
]
