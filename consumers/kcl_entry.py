"""`python -m consumers.kcl_entry sink|monitor [--lake PATH]`: one shard's processor
under the KCL MultiLangDaemon.

The daemon starts this once per shard lease and speaks its JSON protocol on our
stdin and stdout, so nothing but that protocol may reach stdout: the real stdout
is kept for amazon-kclpy alone, and file descriptor 1 (and `sys.stdout`) now
point at stderr, where every log line and any stray print from a library go.
The settings arrive as OTTLAKE_* variables (consumers.kcl.daemon_env).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from consumers.kcl import APPS, processor_factory
from ottlake.errors import OttlakeError
from ottlake.settings import Settings


def _protocol_stdout() -> TextIO:
    """The process's stdout for the protocol only; everything else goes to stderr."""
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


def main(argv: Sequence[str] | None = None) -> int:
    protocol_out = _protocol_stdout()
    parser = argparse.ArgumentParser(prog="consumers.kcl_entry")
    parser.add_argument("app", choices=APPS)
    parser.add_argument("--lake", default=None)
    # The daemon logs every stderr line of ours as an ERROR: by default say only what matters.
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format=f"%(asctime)s {args.app} pid {os.getpid()} %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.load()
        make_processor = processor_factory(settings, args.app, lake=args.lake)
        processor = make_processor()
    except OttlakeError as exc:
        # stdout is the protocol channel: the reason goes to the log (stderr).
        logging.getLogger(__name__).error("error: %s", exc)
        return exc.exit_code
    from amazon_kclpy import kcl

    kcl.KCLProcess(processor, input_file=sys.stdin, output_file=protocol_out, error_file=sys.stderr).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
