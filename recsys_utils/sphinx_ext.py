"""A Sphinx extension for the book: import TensorFlow quietly before autodoc imports the package.

The API page (book/api.md) documents modules that import TensorFlow, whose C++ start-up writes
notes straight to the process's stderr; the strict build would report them as warnings.
"""

from __future__ import annotations


def setup(app):  # noqa: ANN001 - Sphinx's signature
    from recsys_utils.environment import quiet_tensorflow

    quiet_tensorflow()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
