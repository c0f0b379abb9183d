"""Atomic outputs: every file sapwood writes appears complete under its final name or not at all.

A temporary file beside the target (same folder, so the rename cannot cross file systems)
is written, flushed, fsync'ed and renamed over the target; on any failure it is removed.
Temporaries are named ``.<name>.<pid>.<random>.tmp`` so that a stale one (left by a process
that died) can be told from a live one by its pid: :func:`remove_stale_temporaries` removes
only those whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from typing import IO, Any

_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def temporary_name(target: str) -> str:
    """A fresh temporary path beside ``target`` carrying this process's pid."""
    head, tail = os.path.split(os.path.abspath(target))
    return os.path.join(head, f".{tail}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - some file systems refuse to open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def commit(tmp: str, target: str) -> None:
    """fsync ``tmp`` and rename it over ``target`` (then fsync the folder)."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    _fsync_dir(os.path.dirname(os.path.abspath(target)))


def discard(tmp: str) -> None:
    """Remove ``tmp`` if it exists; never raises."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path to write; on a clean exit it replaces ``target``, on any error it
    is removed and ``target`` is left as it was."""
    target = os.fspath(target)
    tmp = temporary_name(target)
    try:
        yield tmp
        commit(tmp, target)
    except BaseException:
        discard(tmp)
        raise


@contextlib.contextmanager
def atomic_paths(*targets: str | os.PathLike[str]) -> Iterator[list[str]]:
    """Several outputs of one job, all or none: yield a temporary path per target; on a clean
    exit every temporary is fsync'ed first and only then renamed over its target (so a full
    disk fails before any target changes); on any error all temporaries (and any target this
    call already renamed into place) are removed."""
    names = [os.fspath(t) for t in targets]
    tmps = [temporary_name(t) for t in names]
    done: list[str] = []
    try:
        yield tmps
        for tmp in tmps:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        for tmp, target in zip(tmps, names, strict=True):
            os.replace(tmp, target)
            done.append(target)
        for folder in {os.path.dirname(os.path.abspath(t)) for t in names}:
            _fsync_dir(folder)
    except BaseException:
        for tmp in tmps:
            discard(tmp)
        for target in done:  # a failed job leaves none of its outputs
            discard(target)
        raise


def write_texts(items: dict[str, str]) -> None:
    """Write each ``{path: text}`` (UTF-8), all or none (see :func:`atomic_paths`)."""
    paths = list(items)
    with atomic_paths(*paths) as tmps:
        for tmp, path in zip(tmps, paths, strict=True):
            with open(tmp, "x", encoding="utf-8") as f:
                f.write(items[path])


def check_writable(target: str | os.PathLike[str], what: str = "output") -> None:
    """Fail early (before a long job) when ``target`` cannot be written: its folder is missing
    or not a folder, or ``target`` is a folder. Raises :class:`OSError` naming the path."""
    path = os.fspath(target)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} {path!r}: folder {os.path.dirname(path) or '.'!r} "
                                "does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {path!r} is a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {path!r}: folder {folder!r} is not writable")


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w",
                encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """``open`` for writing, atomically: ``with atomic_open(p) as f: f.write(...)``."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        with open(tmp, mode.replace("w", "x"), encoding=encoding) as f:
            yield f


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_open(target, "wb") as f:
        f.write(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_open(target, "w") as f:
        f.write(text)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:  # pragma: no cover
        return True
    return True


def is_stale_temporary(path: str) -> bool:
    """Whether ``path`` is one of our temporaries whose writing process is gone."""
    m = _TMP_RE.match(os.path.basename(path))
    return m is not None and not _pid_alive(int(m.group("pid")))


def remove_stale_temporaries(folder: str, target_name: str | None = None) -> list[str]:
    """Remove temporaries in ``folder`` (of ``target_name`` only, if given) left by processes
    that are gone; live ones of running processes are left alone. Returns what was removed."""
    removed: list[str] = []
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return removed
    for n in names:
        m = _TMP_RE.match(n)
        if not m or (target_name is not None and m.group("name") != target_name):
            continue
        p = os.path.join(folder, n)
        if not _pid_alive(int(m.group("pid"))):
            discard(p)
            removed.append(p)
    return removed
