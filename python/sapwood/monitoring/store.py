"""A monitoring store: profiled batches over time, in a partitioned Parquet dataset.

Each append writes ONE new Parquet file holding one row: the batch's time window
(``window_start``, ``window_end``, UTC), the checksum of the model that scored it (SHA-256 of
the model file), its row count, a free-form ``source`` and the profile itself as its JSON
(:meth:`Profile.to_json`). Files are laid out as::

    STORE/date=YYYY-MM-DD/part-<window start, YYYYMMDDTHHMMSSffffffZ>-<random>.parquet

partitioned (hive style) by the window's start date. No server is needed, and:

- appends are atomic: a file is written under a temporary name beside its final one (a name
  starting with ``.``, which readers skip) and renamed into place (on object stores a single
  PUT, which is all-or-nothing), so a reader sees a window completely or not at all;
- concurrent writers lose nothing: each append makes a file of its own, named uniquely
  (random suffix), never rewriting another's;
- retention: ``retention_days`` drops windows that started more than that many days before
  now, on every append and by :meth:`ProfileStore.compact`; the window's start is in the file
  name, so retention deletes files without reading them.

The store is local (a folder) or on any fsspec file system (``memory://``, ``s3://bucket/p``,
``gs://...``: a URL with a protocol; pyarrow reads it through its fsspec handler).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._compat import require
from ..errors import DataError, ModelFormatError, ParameterError
from .profile import Profile

__all__ = ["ProfileStore", "StoredProfile", "model_checksum", "to_utc", "STORE_VERSION"]

STORE_VERSION = 1
_PART_RE = re.compile(r"^part-(?P<ts>\d{8}T\d{12}Z)-(?P<rand>[0-9a-f]{16})\.parquet$")
_DATE_RE = re.compile(r"^date=(?P<d>\d{4}-\d{2}-\d{2})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UTC = _dt.UTC


def to_utc(value: Any, what: str = "time") -> _dt.datetime:
    """A timezone-aware UTC datetime from a datetime (naive ones are taken as UTC), a date, a
    numpy / pandas timestamp or an ISO 8601 string."""
    if value is None:
        raise ParameterError(f"{what} must be given")
    if isinstance(value, _dt.datetime):
        d = value
    elif isinstance(value, _dt.date):
        d = _dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            d = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ParameterError(f"{what} {value!r} is not an ISO 8601 date or time "
                                 "(e.g. 2024-05-01 or 2024-05-01T12:00:00Z)") from None
    elif hasattr(value, "to_pydatetime"):
        d = value.to_pydatetime()
    elif type(value).__name__ == "datetime64":
        import numpy as np

        ns = int(np.datetime64(value, "ns").astype("int64"))
        d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=ns // 1000)
    else:
        raise ParameterError(f"{what} must be a datetime, a date or an ISO 8601 string, got "
                             f"{type(value).__name__}")
    return d.replace(tzinfo=_UTC) if d.tzinfo is None else d.astimezone(_UTC)


def model_checksum(model: Any) -> str:
    """The SHA-256 (hex) identifying a model: of its file's bytes for a path, of its model-file
    bytes for a Booster (``Booster.to_bytes`` is deterministic, so a saved and a loaded model
    agree), or a 64-digit hex checksum given as is."""
    if model is None:
        return ""
    if isinstance(model, str) and _HEX64.match(model.lower()):
        return model.lower()
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise ParameterError(f"model {path!r} is neither a model file nor a 64-digit "
                                 "SHA-256 checksum")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    if hasattr(model, "to_bytes"):
        return hashlib.sha256(model.to_bytes()).hexdigest()
    raise ParameterError(f"model must be a Booster, a model file or a checksum, got "
                         f"{type(model).__name__}")


@dataclass
class StoredProfile:
    """One stored batch: its window, model checksum, row count, source and profile."""

    window_start: _dt.datetime
    window_end: _dt.datetime
    model: str
    rows: int
    source: str
    written_at: _dt.datetime
    profile_json: str = field(repr=False)
    path: str = ""

    @property
    def profile(self) -> Profile:
        """The profile, parsed (and validated) on each access."""
        try:
            return Profile.from_json(self.profile_json)
        except (ModelFormatError, DataError) as e:
            raise ModelFormatError(f"stored profile {self.path!r}: {e}") from None


def _stamp(t: _dt.datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S%fZ")


def _parse_stamp(s: str) -> _dt.datetime:
    return _dt.datetime.strptime(s, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=_UTC)


class _Files:
    """The few file operations the store needs, on a local folder or an fsspec file system."""

    def __init__(self, root: str, storage_options: dict[str, Any] | None) -> None:
        self.fs: Any = None
        if "://" in root and not root.startswith("file://"):
            fsspec = require("fsspec", "a monitoring store on a remote file system")
            self.fs, path = fsspec.core.url_to_fs(root, **(storage_options or {}))
            self.root = str(path).rstrip("/")
        else:
            self.root = os.path.abspath(root[len("file://"):] if root.startswith("file://")
                                        else root)

    @property
    def local(self) -> bool:
        return self.fs is None

    def join(self, *parts: str) -> str:
        return os.path.join(*parts) if self.local else "/".join(parts)

    def listdir(self, path: str) -> list[str]:
        if self.local:
            try:
                return sorted(os.listdir(path))
            except FileNotFoundError:
                return []
        try:
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def write_atomic(self, path: str, data: bytes) -> None:
        if self.local:
            from .._fs import write_bytes

            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_bytes(path, data)  # temporary beside, fsync, rename
            return
        head, tail = path.rsplit("/", 1)
        tmp = f"{head}/.{tail}.{uuid.uuid4().hex[:8]}.tmp"
        self.fs.makedirs(head, exist_ok=True)
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except BaseException:
            try:
                self.fs.rm_file(tmp)
            except Exception:  # noqa: BLE001 - best effort: the temporary is skipped by readers
                pass
            raise

    def read(self, path: str) -> bytes:
        if self.local:
            with open(path, "rb") as f:
                return f.read()
        data: bytes = self.fs.cat_file(path)
        return data

    def remove(self, path: str) -> bool:
        try:
            if self.local:
                os.unlink(path)
            else:
                self.fs.rm_file(path)
        except FileNotFoundError:
            return False  # a concurrent compaction got there first
        return True

    def remove_empty_dir(self, path: str) -> None:
        try:
            if self.local:
                os.rmdir(path)
            elif not self.fs.ls(path, detail=False):
                self.fs.rmdir(path)
        except OSError:
            pass  # not empty (a writer just added a window) or already gone


class ProfileStore:
    """Profiles of scored batches over time (see the module docstring).

    root: a folder, or an fsspec URL (``s3://bucket/monitoring``, ``memory://store``).
    retention_days: drop windows that started more than this many days ago, on each append
        (None: keep everything).
    storage_options: passed to fsspec for a URL (credentials, endpoint, ...).
    """

    def __init__(self, root: str | os.PathLike[str], *, retention_days: float | None = None,
                 storage_options: dict[str, Any] | None = None) -> None:
        if retention_days is not None and (isinstance(retention_days, bool) or
                                           not isinstance(retention_days, (int, float)) or
                                           not retention_days > 0):
            raise ParameterError(f"retention_days must be a positive number, got "
                                 f"{retention_days!r}")
        self.url = os.fspath(root)
        self.retention_days = retention_days
        self._files = _Files(self.url, storage_options)

    def __repr__(self) -> str:
        return f"<sapwood ProfileStore {self.url!r}>"

    # ------------------------------------------------------------------ writing
    def append(self, profile: Profile, *, window_start: Any = None, window_end: Any = None,
               model: Any = None, source: str = "", now: Any = None) -> str:
        """Store one profiled batch; returns the path of the file written.

        window_start / window_end: the batch's time window (default: now, and the start);
        model: the Booster or model file that scored it (or its SHA-256); source: free text
        (input file, job id). ``now`` (default: the clock) is what retention counts from."""
        pa = require("pyarrow", "the monitoring store")
        pq = require("pyarrow.parquet", "the monitoring store")
        if not isinstance(profile, Profile):
            raise ParameterError(f"can only store a Profile, got {type(profile).__name__}")
        t_now = to_utc(now, "now") if now is not None else _dt.datetime.now(_UTC)
        start = to_utc(window_start, "window_start") if window_start is not None else t_now
        end = to_utc(window_end, "window_end") if window_end is not None else start
        if end < start:
            raise ParameterError(f"window_end {end.isoformat()} is before window_start "
                                 f"{start.isoformat()}")
        if not isinstance(source, str):
            raise ParameterError(f"source must be a string, got {type(source).__name__}")
        ts = pa.timestamp("us", tz="UTC")
        table = pa.table({
            "store_version": pa.array([STORE_VERSION], pa.int16()),
            "window_start": pa.array([start], ts),
            "window_end": pa.array([end], ts),
            "model": pa.array([model_checksum(model)], pa.string()),
            "rows": pa.array([profile.num_rows], pa.int64()),
            "source": pa.array([source], pa.string()),
            "written_at": pa.array([t_now], ts),
            "profile": pa.array([profile.to_json()], pa.large_string()),
        })
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        f = self._files
        name = f"part-{_stamp(start)}-{uuid.uuid4().hex[:16]}.parquet"
        path = f.join(f.root, f"date={start.date().isoformat()}", name)
        f.write_atomic(path, buf.getvalue())
        if self.retention_days is not None:
            self.compact(now=t_now)
        return path

    def compact(self, retention_days: float | None = None, *, now: Any = None) -> int:
        """Drop the windows that started more than ``retention_days`` (default: the store's)
        days before ``now``; returns how many were dropped. Also removes the temporaries of
        local writers that died mid-append."""
        days = self.retention_days if retention_days is None else retention_days
        f = self._files
        if f.local:
            from .._fs import remove_stale_temporaries

            for d in f.listdir(f.root):
                if _DATE_RE.match(d):
                    remove_stale_temporaries(f.join(f.root, d))
        if days is None:
            return 0
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0:
            raise ParameterError(f"retention_days must be a positive number, got {days!r}")
        t_now = to_utc(now, "now") if now is not None else _dt.datetime.now(_UTC)
        cutoff = t_now - _dt.timedelta(days=float(days))
        dropped = 0
        for d, files in self._partitions(None, None):
            for name, start in files:
                if start < cutoff and f.remove(f.join(f.root, d, name)):
                    dropped += 1
            if _dt.date.fromisoformat(d[5:]) < cutoff.date():
                f.remove_empty_dir(f.join(f.root, d))
        return dropped

    # ------------------------------------------------------------------ reading
    def _partitions(self, since: _dt.datetime | None, until: _dt.datetime | None
                    ) -> Iterator[tuple[str, list[tuple[str, _dt.datetime]]]]:
        """(partition folder, [(file name, window start)]) with windows in [since, until)."""
        f = self._files
        for d in f.listdir(f.root):
            m = _DATE_RE.match(d)
            if not m:
                continue
            day = _dt.date.fromisoformat(m.group("d"))
            if since is not None and day < since.date():
                continue
            if until is not None and day > until.date():
                continue
            files = []
            for name in f.listdir(f.join(f.root, d)):
                pm = _PART_RE.match(name)
                if pm is None:
                    continue  # temporaries (".name...tmp") and foreign files
                start = _parse_stamp(pm.group("ts"))
                if (since is None or start >= since) and (until is None or start < until):
                    files.append((name, start))
            yield d, files

    def paths(self, *, since: Any = None, until: Any = None) -> list[str]:
        """The stored files with windows starting in [since, until), oldest first."""
        s = to_utc(since, "since") if since is not None else None
        u = to_utc(until, "until") if until is not None else None
        out = [(start, self._files.join(self._files.root, d, name))
               for d, files in self._partitions(s, u) for name, start in files]
        return [p for _, p in sorted(out)]

    def read(self, *, model: Any = None, since: Any = None, until: Any = None
             ) -> list[StoredProfile]:
        """Stored batches, oldest window first. model: only those scored by this model (a
        Booster, a model file, or a SHA-256 / a prefix of at least 8 hex digits); since /
        until: windows starting in [since, until)."""
        pq = require("pyarrow.parquet", "the monitoring store")
        pa = require("pyarrow", "the monitoring store")
        want = None
        if model is not None:
            if isinstance(model, str) and re.fullmatch(r"[0-9a-fA-F]{8,64}", model):
                want = model.lower()
            else:
                want = model_checksum(model)
        out: list[StoredProfile] = []
        for path in self.paths(since=since, until=until):
            try:
                data = self._files.read(path)
            except FileNotFoundError:
                continue  # dropped by a concurrent compaction after listing
            try:
                t = pq.read_table(pa.BufferReader(data))
                row = t.to_pylist()[0]
                rec = StoredProfile(
                    window_start=to_utc(row["window_start"]), window_end=to_utc(row["window_end"]),
                    model=str(row["model"]), rows=int(row["rows"]), source=str(row["source"]),
                    written_at=to_utc(row["written_at"]), profile_json=str(row["profile"]),
                    path=path)
            except (pa.ArrowException, KeyError, IndexError, TypeError, ValueError) as e:
                raise ModelFormatError(f"monitoring store file {path!r} is not a stored "
                                       f"profile: {e}") from None
            if want is not None and not rec.model.startswith(want):
                continue
            out.append(rec)
        out.sort(key=lambda r: (r.window_start, r.written_at, r.path))
        return out

    def __len__(self) -> int:
        return len(self.paths())
