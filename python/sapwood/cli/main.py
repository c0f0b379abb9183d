"""The ``sapwood`` command: builds the parser from one module per command and dispatches."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

__all__ = ["main"]

# command name -> module under sapwood.cli with add_parser(sub) and run(args) -> int
COMMANDS = ("demo", "inspect", "train", "validate", "monitor", "score", "serve")


def _command_module(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"{__package__}.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sapwood", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        _command_module(name).add_parser(sub)
    args = parser.parse_args(argv)
    return int(_command_module(args.command).run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
