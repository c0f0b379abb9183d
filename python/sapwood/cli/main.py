"""The ``sapwood`` command: builds the parser from one module per command and dispatches.

One error convention for every command lives here, so that command modules only return a
verdict or raise:

- exit 0: success; 1: rejected / drift (a verdict the command returns);
- exit 2: could not run: any :class:`~sapwood.SapwoodError` (bad input, model or config, a
  missing optional dependency), any :class:`OSError` (missing file, full disk), a usage error,
  and also an unexpected exception (a bug: a crash is never a verdict);
- exit 130: interrupted (Ctrl-C, or SIGTERM, which is turned into KeyboardInterrupt).

Errors are one line on stderr, ``sapwood <command>: error: <message>``; no traceback unless
``SAPWOOD_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any, NoReturn

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_REJECTED", "EXIT_ERROR", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_REJECTED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

# command name -> module under sapwood.cli with add_parser(sub) and run(args) -> int
COMMANDS = ("demo", "inspect", "train", "validate", "monitor", "score", "serve", "export",
            "diagnose")

DESCRIPTION = (
    "sapwood: gradient-boosted trees for tabular data, from training to monitoring. "
    "Train a model from a TOML config, look inside model files (sapwood, LightGBM, XGBoost), "
    "gate a release on acceptance criteria, score files in batch, and check new data for "
    "drift. Exit codes for every command: 0 success, 1 rejected or drift, 2 could not run, "
    "130 interrupted. Set SAPWOOD_DEBUG=1 to see tracebacks.")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one worth showing (not None, not a flag's
    False, not where the help text already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or action.required \
                or action.default is argparse.SUPPRESS or "default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Every (sub)command shows option defaults, and a usage error is one line, exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _command_module(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"{__package__}.{name}")


def _version() -> str:
    from .. import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sapwood", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"sapwood {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for name in COMMANDS:
        _command_module(name).add_parser(sub)
    return parser


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        msg = e.strerror
        if e.filename is not None:
            msg = f"{e.filename}: {msg}"
    else:
        msg = str(e) or type(e).__name__
    return " ".join(msg.split())  # one line, whatever the message held


def _user_errors() -> tuple[type[BaseException], ...]:
    from .._compat import MissingDependencyError
    from ..errors import SapwoodError

    return (SapwoodError, MissingDependencyError, OSError)


def _debug() -> bool:
    return os.environ.get("SAPWOOD_DEBUG", "") not in ("", "0")


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler cancelling the job) cleans up like Ctrl-C: outputs are atomic, so
    the unwinding KeyboardInterrupt removes every temporary."""
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # pragma: no cover - a closed pipe
        pass


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (see the module docstring)."""
    with _sigterm_interrupts():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, --version or a usage error (already printed)
            return e.code if isinstance(e.code, int) else EXIT_ERROR
        except KeyboardInterrupt:
            print("sapwood: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        name = f"sapwood {args.command}"
        try:
            code = int(_command_module(args.command).run(args))
            _flush_stdout()
            return code
        except KeyboardInterrupt:
            _flush_stdout()
            print(f"{name}: interrupted; no output was left behind", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _user_errors() as e:
            _flush_stdout()
            if _debug():
                traceback.print_exc()
            print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_ERROR
        except SystemExit as e:  # a command that exits on its own
            return e.code if isinstance(e.code, int) else EXIT_ERROR
        except Exception as e:  # a bug: still "could not run", never a verdict
            _flush_stdout()
            if _debug():
                traceback.print_exc()
                print(f"{name}: error: unexpected {type(e).__name__}: {_one_line(e)}",
                      file=sys.stderr)
            else:
                print(f"{name}: error: unexpected {type(e).__name__}: {_one_line(e)} (this is "
                      "a bug; rerun with SAPWOOD_DEBUG=1 for the traceback)", file=sys.stderr)
            return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
