"""Tables as the book prints them."""

from __future__ import annotations

import pandas as pd


def rounded(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``digits`` and no negative zeros (so that a
    tiny negative number prints as 0.0, identically on every run); other columns untouched."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits) + 0.0
    return out
