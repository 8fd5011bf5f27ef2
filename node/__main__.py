"""``python -m node`` is the ``wampnode`` command; only this module exits."""
from __future__ import annotations

import sys

from node.commands.main import main

if __name__ == "__main__":
    sys.exit(main())
