"""Genre vocabularies of the MovieLens releases and the report's attribute order."""

from __future__ import annotations

#: The 18 genres of MovieLens 1M, in the order its README lists them.
ML1M_GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
    "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

#: The report's attribute columns a1..a18 (its SQL query, Appendix B), in order.
REPORT_GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Comedy", "Horror", "Children's", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Musical", "Mystery",
    "Animation", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

#: The 19 genre flags of MovieLens 100K's ``u.item``, in file order ("unknown" first).
ML100K_GENRES: tuple[str, ...] = ("unknown",) + ML1M_GENRES

assert sorted(REPORT_GENRES) == sorted(ML1M_GENRES)
