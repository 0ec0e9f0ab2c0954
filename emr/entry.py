"""The entry script of every EMR step: `spark-submit ottlake_entry.py <job module> [arguments]`.

It runs one job of the step list (emr.steps) through its `main(argv)`, the same
command line as `python -m <job module>` here; any other module is refused.

`ottlake_entry.py batch [arguments]` runs every step of the list in order in one
job (one Spark session), stopping at the first that fails: what a schedule that can
start one job only (EventBridge Scheduler's EMR Serverless target) runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

BATCH = "batch"


def main(argv: Sequence[str] | None = None) -> int:
    from emr.steps import STEPS, runs_of

    args = list(sys.argv[1:] if argv is None else argv)
    modules = [step.module for step in STEPS]
    if args[:1] == [BATCH]:
        for run in runs_of(args[1:]):
            print(f"ottlake step {run.step.name}", file=sys.stderr, flush=True)
            code = int(importlib.import_module(run.step.module).main(list(run.arguments)))
            if code != 0:
                print(f"error: step {run.step.name} failed (exit {code}); the steps after it did not run",
                      file=sys.stderr)
                return code
        return 0
    if not args or args[0] not in modules:
        print(f"error: the first argument is {BATCH} or one of {', '.join(modules)}, not {args[:1]}",
              file=sys.stderr)
        return 2
    return int(importlib.import_module(args[0]).main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
