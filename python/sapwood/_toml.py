"""TOML loading with line numbers for errors (tomllib on 3.11+, tomli before)."""

from __future__ import annotations

import re
import sys
from typing import Any

from .errors import ParameterError

__all__ = ["load_toml", "line_of", "ConfigError"]


class ConfigError(ParameterError):
    """A configuration or criteria file is malformed; the message names the line and key."""


def load_toml(path: str) -> tuple[dict[str, Any], str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        text = raw.decode("utf-8")
        return tomllib.loads(text), text
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def line_of(text: str, key: str, section: str | None = None) -> int | None:
    """The 1-based line where ``key`` is set (inside ``[section]`` when given), best effort."""
    current: str | None = None
    key_re = re.compile(r"^\s*(?:\"?" + re.escape(key) + r"\"?)\s*=")
    inline_re = re.compile(r"[{,]\s*\"?" + re.escape(key) + r"\"?\s*=")
    for i, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if m:
            current = m.group(1)
            if section is not None and current == section and key == section:
                return i
            continue
        if section is None or current == section or (current or "").startswith(section + "."):
            if key_re.match(line) or inline_re.search(line):
                return i
    return None
