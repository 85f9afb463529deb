"""Genre vocabularies of the MovieLens releases and the report's attribute order.

MovieLens 1M and 100K share 18 genres. The later releases (10M, 20M, 25M, 32M) spell
"Children's" as "Children", add "IMAX", and mark a movie without genres as
``"(no genres listed)"``; the parsers turn that mark into ``""``, as ML-1M's empty genres.
"""

from __future__ import annotations

#: The 18 genres of MovieLens 1M, in the order its README lists them.
ML1M_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

#: The report's attribute columns a1..a18 (its SQL query, Appendix B), in order.
REPORT_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Comedy",
    "Horror",
    "Children's",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Musical",
    "Mystery",
    "Animation",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

#: The 19 genre flags of MovieLens 100K's ``u.item``, in file order ("unknown" first).
ML100K_GENRES: tuple[str, ...] = ("unknown",) + ML1M_GENRES

#: The 19 genres of MovieLens 10M, 20M, 25M and 32M, in the order their READMEs list them.
MODERN_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

#: How those releases mark a movie without genres (alone in its genres field).
NO_GENRES_LISTED = "(no genres listed)"

#: Each release's genre vocabulary (the columns a genre feature of its movies needs).
GENRES_BY_DATASET: dict[str, tuple[str, ...]] = {
    "ml-100k": ML1M_GENRES,
    "ml-1m": ML1M_GENRES,
    "ml-10m": MODERN_GENRES,
    "ml-20m": MODERN_GENRES,
    "ml-25m": MODERN_GENRES,
    "ml-32m": MODERN_GENRES,
}

assert sorted(REPORT_GENRES) == sorted(ML1M_GENRES)
