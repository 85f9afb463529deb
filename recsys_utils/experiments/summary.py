"""What the command line's ``store list`` and ``store clear`` print (``cli.py`` calls these)."""

from __future__ import annotations

import json
from typing import Any

from recsys_utils.experiments.store import EntryInfo, Store, default_store

#: Parameters shown in a listing's summary column (the rest are in ``--json``).
_SHOWN_PARAMS = ("model", "user_id", "seed", "epochs", "split", "train_fraction")
_MIB = 1 << 20


def describe_entries(entries: list[EntryInfo], store: Store) -> list[dict[str, Any]]:
    """The entries as JSON-able dicts: name, key, path, bytes, created (ISO 8601 UTC),
    compute_s, status (``"ok"``; ``"stale"``: of another version or code, never used by this
    one; ``"damaged"``: unreadable manifest), data fingerprint, version, params (a population
    shard's user list replaced by its length, ``n_users``)."""
    out = []
    for e in entries:
        status = e.status if e.status != "ok" or store.is_current(e) else "stale"
        params = dict(e.params)
        if isinstance(params.get("users"), list):
            params["n_users"] = len(params.pop("users"))
        out.append(
            {
                "name": e.name,
                "key": e.key,
                "path": str(e.path),
                "bytes": e.bytes,
                "created": e.created.isoformat() if e.created else None,
                "compute_s": e.compute_s,
                "status": status,
                "data": e.data,
                "version": e.version,
                "params": params,
            }
        )
    return out


def list_store(store: Store | None = None, name: str | None = None, *, as_json: bool = False) -> str:
    """The text of ``store list``: the store's folder, then one line per entry (of
    experiment ``name`` only, if given: experiment, key, size, date, compute time, main
    parameters, and ``[stale]`` or ``[damaged]`` unless usable), then the count and total
    size; or, with ``as_json``, ``{"store": folder, "entries": describe_entries(...)}``."""
    store = store or default_store()
    entries = store.entries(name)
    if as_json:
        return json.dumps({"store": str(store.root), "entries": describe_entries(entries, store)}, indent=1)
    lines = [f"experiment store: {store.root}"]
    for row in describe_entries(entries, store):
        shown = {k: row["params"][k] for k in _SHOWN_PARAMS + ("n_users",) if k in row["params"]}
        when = (row["created"] or "?")[:19].replace("T", " ")
        took = f"{row['compute_s']:.1f} s" if row["compute_s"] is not None else "?"
        summary = ", ".join(f"{k}={v}" for k, v in shown.items())
        lines.append(
            f"  {row['name']:<18} {row['key'][:12]}  {row['bytes'] / _MIB:8.2f} MiB  "
            f"{when}  computed in {took:>9}  {summary}"
            + ("" if row["status"] == "ok" else f"  [{row['status']}]")
        )
    total = sum(e.bytes for e in entries)
    lines.append(f"{len(entries)} entries, {total / _MIB:.2f} MiB")
    return "\n".join(lines)


def clear_store(store: Store | None = None, name: str | None = None, *, stale_only: bool = False) -> str:
    """``store clear``: remove the store's entries (of experiment ``name`` only, if given;
    only the stale ones with ``stale_only``, see :meth:`Store.clear`) and return one line
    saying how many and how much; other files in the folder stay."""
    store = store or default_store()
    count, freed = store.clear(name, stale_only=stale_only)
    kind = " stale" if stale_only else ""
    which = f" of {name}" if name else ""
    return f"removed {count}{kind} entries{which} ({freed / _MIB:.2f} MiB) from {store.root}"
