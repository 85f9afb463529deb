"""Vocabulary of the synthetic twin: user attributes, genre weights and title words.

Plain data that :mod:`recsys_utils.data.synthetic` draws from, kept apart so that the generator
module holds the logic only.
"""

from __future__ import annotations

import numpy as np

_AGE_CODES = (1, 18, 25, 35, 45, 50, 56)
_AGE_WEIGHTS = (222, 1103, 2096, 1193, 550, 496, 380)  # ML-1M's users per age code
_ML100K_OCCUPATIONS = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)
# Relative frequency of each ML1M_GENRES entry among movies (rough ML-1M shape).
_GENRE_WEIGHTS = np.array(
    [
        503,
        283,
        105,
        251,
        1200,
        211,
        127,
        1603,
        68,
        44,
        343,
        114,
        106,
        471,
        276,
        492,
        143,
        68,
    ],
    dtype=float,
)
_ADJECTIVES = (
    "Silent",
    "Last",
    "Broken",
    "Golden",
    "Hidden",
    "Wild",
    "Crimson",
    "Lost",
    "Endless",
    "Frozen",
    "Distant",
    "Burning",
    "Midnight",
    "Little",
    "Dark",
    "Secret",
    "Brave",
    "Lonely",
)
_NOUNS = (
    "Harbor",
    "Summer",
    "Kingdom",
    "River",
    "Detective",
    "Garden",
    "Storm",
    "Letters",
    "Station",
    "Empire",
    "Heart",
    "Journey",
    "Shadows",
    "Island",
    "Game",
    "Voyage",
    "Night",
    "Circus",
)
# Latin-1 (not ASCII) words, as in ML-1M titles such as "Misérables, Les (1995)".
_ACCENTED = ("Café", "Señor", "Müller", "Kådisbellan", "Misérables", "Noël", "Façade", "Über", "Ça", "Amélie")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
