"""The `sapwood` command line: one module per command.

Owns argument parsing, exit codes (0 success, 1 rejected/drift, 2 could not run, 130
interrupted) and the one-line error messages. May import every other sapwood package; none
imports it.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
