"""The entry script of every EMR step: `spark-submit ottlake_entry.py <job module> [arguments]`.

It runs one job of the step list (emr.steps) through its `main(argv)`, the same
command line as `python -m <job module>` here; any other module is refused.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from emr.steps import STEPS

    args = list(sys.argv[1:] if argv is None else argv)
    modules = [step.module for step in STEPS]
    if not args or args[0] not in modules:
        print(f"error: the first argument is one of {', '.join(modules)}, not {args[:1]}", file=sys.stderr)
        return 2
    return int(importlib.import_module(args[0]).main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
