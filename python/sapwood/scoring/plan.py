"""Planning a scoring job: which input files, which output parts, in which formats.

- :func:`plan`: the input files (a file, a folder walked recursively, or a glob) and the
  output part of each (one file, or one part per input file in a folder), with the output
  format taken from the output's name or given explicitly; an unknown name is refused.
  An output that is, or lies inside, an input is refused before anything is written.
- :func:`part_complete`: for ``resume``, whether a part is already written in full.
- :func:`remove_stale_temporaries`: temporaries of a part left by processes that are gone
  (live ones, of a run writing the same output right now, are left alone).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import _fs
from ..errors import ParameterError
from ..frame.readers import input_format, is_data_file, list_inputs
from .inputs import num_rows
from .outputs import FORMAT_EXTENSION, OUTPUT_EXTENSIONS, OUTPUT_FORMATS, format_of_name

__all__ = [
    "Part", "Plan", "plan", "format_for_output", "part_complete",
    "count_rows", "remove_stale_temporaries", "check_outputs_outside_inputs",
]


@dataclass(frozen=True)
class Part:
    source: str  # input file
    target: str  # final output path


@dataclass(frozen=True)
class Plan:
    parts: list[Part]
    output_format: str
    inputs: list[str]  # every input file
    input_root: str | None  # the input folder; None for a file or a glob
    pattern: str | None = None  # the input glob


def _is_glob(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def _accepted() -> str:
    return (f"name it {', '.join(OUTPUT_EXTENSIONS)} or pass output_format= one of "
            f"{', '.join(OUTPUT_FORMATS)} (--output-format)")


def _check_format(given: str | None) -> None:
    if given is not None and given not in OUTPUT_FORMATS:
        raise ParameterError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {given!r}")


def format_for_output(target: str, given: str | None) -> str:
    """The format of output file ``target``: from its name, or ``given`` (which must agree
    with a name that names a format). A name that names no format needs ``given``."""
    _check_format(given)
    named = format_of_name(target)
    if given is not None:
        if named is not None and named != given:
            raise ParameterError(
                f"output {target!r} is named as {named} but output_format is {given!r}")
        return given
    if named is None:
        raise ParameterError(f"output {target!r}: cannot tell its format from its name; "
                             f"{_accepted()}")
    return named


def plan(source: str, sink: str, output_format: str | None = None,
         other_outputs: Sequence[str] = ()) -> Plan:
    """The job's parts. ``sink`` is a file for a single input file, else (a folder or glob
    input, or ``sink`` ending with "/" or naming a folder) a folder holding one part per input
    file, named after it. ``other_outputs`` (the profile) are checked against the inputs too."""
    _check_format(output_format)
    files, base = list_inputs(source)
    folder_out = base is not None or sink.endswith(("/", os.sep)) or os.path.isdir(sink)
    if not folder_out:
        fmt = format_for_output(sink, output_format)
        parts = [Part(files[0], sink)]
    else:
        if base is not None and format_of_name(sink) is not None and not os.path.isdir(sink) \
                and not sink.endswith(("/", os.sep)):
            raise ParameterError(
                f"output {sink!r} looks like a file, but input {source!r} is a folder or a glob "
                "of files: the output is a folder (one part per input file); end it with '/' "
                "to use this name for the folder")
        fmt = output_format or "parquet"
        parts = []
        seen: set[str] = set()
        for f in files:
            rel = os.path.relpath(os.path.abspath(f), base) if base else os.path.basename(f)
            stem = rel[: -3] if rel.lower().endswith(".gz") else rel
            stem = os.path.splitext(stem)[0]
            target = os.path.join(sink, stem + FORMAT_EXTENSION[fmt])
            if target in seen:
                raise ParameterError(f"two inputs would write the same part {target!r}")
            seen.add(target)
            parts.append(Part(f, target))
    glob_input = _is_glob(source) and not os.path.isdir(source)
    p = Plan(parts, fmt, files, base if base is not None and not glob_input else None,
             source if glob_input else None)
    check_outputs_outside_inputs(p, [sink, *other_outputs])
    return p


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_outputs_outside_inputs(p: Plan, outputs: Iterable[str]) -> None:
    """Refuse an output (a part, the sink, the profile) that is an input file, or lies inside
    the input folder: the job would replace (or later read back) its own input."""
    inputs = {_real(f): f for f in p.inputs}
    root = _real(p.input_root) if p.input_root is not None else None
    for out in [*outputs, *(q.target for q in p.parts)]:
        r = _real(out)
        hit = inputs.get(r)
        if hit is None and os.path.exists(out):
            hit = next((f for f in p.inputs if _same_file(f, out)), None)
        if hit is not None:
            raise ParameterError(f"output {out!r} is the input file {hit!r}: it would replace "
                                 "the input; choose another output path")
        if root is not None and _inside(r, root):
            raise ParameterError(f"output {out!r} lies inside the input folder "
                                 f"{p.input_root!r}: choose an output outside it")
        if p.pattern is not None and is_data_file(out) and _glob_would_match(p.pattern, out):
            raise ParameterError(f"output {out!r} matches the input glob {p.pattern!r}: a "
                                 "later run would read it as input; choose an output outside it")


def _glob_would_match(pattern: str, path: str) -> bool:
    """Whether ``glob.glob(pattern, recursive=True)`` would list ``path`` if it existed (one
    name per path segment; ``**`` spans any number of folders)."""
    import fnmatch

    pat = os.path.abspath(pattern).split(os.sep)
    names = os.path.abspath(path).split(os.sep)

    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(names)
        if pat[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(names) + 1))
        return j < len(names) and fnmatch.fnmatchcase(names[j], pat[i]) and match(i + 1, j + 1)

    return match(0, 0)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def count_rows(parts: Sequence[Part], in_format: str | None) -> int | None:
    """Total input rows when cheap to know (Parquet/IPC metadata), else None."""
    total = 0
    for p in parts:
        fmt = input_format(p.source, in_format)
        if fmt == "csv":
            return None
        try:
            total += num_rows(p.source, fmt)
        except Exception:  # noqa: BLE001 - only for the progress bar
            return None
    return total


def part_complete(part: Part, in_format: str | None, out_format: str) -> bool:
    """For ``resume``: the part exists (and, for Parquet or Arrow IPC in and out, has as many
    rows as its input)."""
    if not os.path.isfile(part.target):
        return False
    fmt = input_format(part.source, in_format)
    if out_format not in ("parquet", "ipc") or fmt == "csv":
        return True
    try:
        return bool(num_rows(part.target, out_format) == num_rows(part.source, fmt))
    except Exception:  # noqa: BLE001 - unreadable part: score it again
        return False


def remove_stale_temporaries(target: str) -> list[str]:
    """Temporaries of ``target`` left by processes that are gone (killed runs); those of live
    processes (another run writing the same output now) are left alone."""
    folder, name = os.path.split(os.path.abspath(target))
    return _fs.remove_stale_temporaries(folder, name)

