"""``python -m recsys_utils``: see :mod:`recsys_utils.cli`."""

import sys

from recsys_utils.cli import main

sys.exit(main())
