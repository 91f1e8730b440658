"""The prediction cache: a content-addressed store of member predictions shared across jobs
(design and guarantees in ``docs/prediction-cache.md``; no Ray here).

A member's prediction is a pure function of the model (its kind, head, precision, geometry and
the bytes of its weights), of the input the model reads (the member's slice of its extended
window and whether that slice is read reverse-complemented), of the bins read (and which of
them lie on the output) and of the tracks.  :func:`model_key` hashes the first,
:func:`member_keys` the rest but the tracks into a 16-byte BLAKE2b key per member.  An entry
holds, for one key, the bin-summed values of some tracks; a hit needs every requested track.

On disk::

    <root>/<model key>/model.json              what the model is (for ``cache info``; not read back)
    <root>/<model key>/parts/<uuid>.parquet    entries: key binary(16), tracks list<int32>,
                                               values list<float32>, check uint32
    <root>/weights/<hash>.json                 memoised weight digests (by path, sizes, mtimes)

``check`` is the CRC-32 of the key, the tracks (int32 little-endian) and the values (float32
little-endian) of the row.  A part is written to a temporary name in ``parts/`` and renamed, so a
reader sees whole parts or none; a row whose check fails, and a part that cannot be read, are
counted and dropped, never served.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: environment variable naming the cache root (a path, or ``off``) when the spec does not
CACHE_ENV = "SEQBENCH_PREDICTION_CACHE"
#: the value that turns the cache off (spec, environment)
OFF = "off"
#: bytes of a member key (BLAKE2b-128)
KEY_BYTES = 16
#: changes of how keys or entries are formed bump this; it is hashed into every model key
FORMAT = 1
#: a part's schema
PART_SCHEMA = pa.schema([
    pa.field("key", pa.binary(KEY_BYTES)),
    pa.field("tracks", pa.list_(pa.int32())),
    pa.field("values", pa.list_(pa.float32())),
    pa.field("check", pa.uint32()),
])


def resolve_root(setting: str | None, cache_dir: Path, *, disabled: bool = False) -> Path | None:
    """The cache root a job uses, or None when the cache is off.

    ``disabled`` (``--no-cache``) wins; then ``setting`` (``runtime.prediction_cache``), then
    ``$SEQBENCH_PREDICTION_CACHE``, then ``<cache_dir>/predictions``.  ``off`` (any case) turns it
    off; a relative path is taken from the current directory."""
    if disabled:
        return None
    value = setting if setting is not None else os.environ.get(CACHE_ENV)
    if value is None or not str(value).strip():
        return (Path(cache_dir) / "predictions").resolve()
    if str(value).strip().lower() == OFF:
        return None
    return Path(str(value).strip()).expanduser().resolve()


# ---------------------------------------------------------------- keys


def weights_digest(handle: str, memo_root: Path | None = None) -> str:
    """SHA-256 over every file of the weights ``handle`` names (a file, or a directory walked in
    sorted order, each file's relative path and content), hex.

    Hashing a 1-GB SavedModel takes seconds, so the digest is memoised in
    ``<memo_root>/weights/`` under the path with every file's size and mtime: a file rewritten in
    place (another mtime or size) is hashed again.  A URL (``https://``, ``gs://``) is not read:
    its digest is the URL's, TF-Hub model versions being immutable (see docs/prediction-cache.md)."""
    if "://" in handle and not handle.startswith("file://"):
        return "url:" + hashlib.sha256(handle.encode()).hexdigest()
    path = Path(handle.removeprefix("file://")).resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stats = [(p.relative_to(path).as_posix() if p != path else p.name, p.stat().st_size, p.stat().st_mtime_ns)
             for p in files]
    memo = None
    if memo_root is not None:
        tag = hashlib.sha256(json.dumps([str(path), stats]).encode()).hexdigest()
        memo = Path(memo_root) / "weights" / f"{tag}.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            return str(json.loads(memo.read_text())["sha256"])
    h = hashlib.sha256()
    for p, (rel, size, _mtime) in zip(files, stats, strict=True):
        h.update(f"{rel}\0{size}\0".encode())
        with open(p, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 22), b""):
                h.update(block)
    digest = h.hexdigest()
    if memo is not None:
        with contextlib.suppress(OSError):  # a read-only cache still works, hashing again next time
            _atomic_write(memo, json.dumps({"path": str(path), "sha256": digest, "files": len(files)}).encode())
    return digest


def model_key(kind: str, head: str, precision: str, geometry: Any, weights: str) -> str:
    """The model's identity (hex, 32 characters): kind (which also fixes the one-hot value of N), head,
    precision, geometry and the weights' digest.  The display name, the batch size, XLA and where
    members are cut are not in it (they change no value on a CPU; see docs/prediction-cache.md)."""
    g = geometry
    blob = json.dumps({"format": FORMAT, "kind": kind, "head": head, "precision": precision,
                       "geometry": [g.sequence_length, g.bin_size, g.offset, g.n_bins, g.anchor],
                       "weights": weights}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def spec_model_key(spec: Any, geometry: Any, handle: str, memo_root: Path | None) -> str:
    """:func:`model_key` of a :class:`seqbench.models.registry.ModelSpec` whose weights are at ``handle``
    (as :func:`seqbench.models.registry.describe` resolves it)."""
    return model_key(spec.kind, spec.head, spec.precision, geometry, weights_digest(handle, memo_root))


def open_model_cache(
    root: str | Path | None, spec: Any, geometry: Any, cache_dir: str | Path | None
) -> ModelCache | None:
    """The entries of the model a :class:`seqbench.models.registry.ModelSpec` names (of ``geometry``) in
    the prediction cache at ``root`` (None: off).  A model whose weights cannot be hashed runs without
    the cache (said on stderr): never under a wrong key."""
    if not root:
        return None
    from seqbench.models.registry import describe

    try:
        name, _geometry, _tracks, handle = describe(spec, Path(cache_dir) if cache_dir else None)
        key = spec_model_key(spec, geometry, handle, Path(root))
    except Exception as exc:
        _warn(f"off for {spec.display_name} ({type(exc).__name__}: {exc})")
        return None
    return ModelCache(Path(root), key, {"name": name, "kind": spec.kind, "head": spec.head, "handle": handle,
                                        "precision": spec.precision, "geometry": dict(geometry.__dict__)})


def member_keys(
    model: bytes, windows: np.ndarray, rows: np.ndarray, starts: np.ndarray, reverse: np.ndarray,
    sequence_length: int, bins: np.ndarray, valid: np.ndarray,
) -> list[bytes]:
    """One BLAKE2b-128 key per member: ``model`` (the model key's bytes), the member's input slice
    ``windows[row, start : start + L]`` (uint8 codes, hashed as a view, no copy), whether it is read
    reverse-complemented, its bins (int32 ``[K]``) and which of them lie on the output.

    ``rows``, ``starts``, ``reverse`` as :func:`seqbench.models.device.member_plan` gives them; ``bins``
    ``[B, K]``, ``valid`` ``[B, K]`` (non-zero: on the output)."""
    L = int(sequence_length)
    base = hashlib.blake2b(model, digest_size=KEY_BYTES)
    bins32 = np.ascontiguousarray(bins, dtype=np.int32)
    mask = np.ascontiguousarray(np.asarray(valid) != 0, dtype=np.uint8)
    out = []
    for j in range(rows.shape[0]):
        h = base.copy()
        s = int(starts[j])
        h.update(memoryview(windows[int(rows[j]), s : s + L]))
        h.update(b"\x01" if reverse[j] else b"\x00")
        h.update(memoryview(bins32[j]))
        h.update(memoryview(mask[j]))
        out.append(h.digest())
    return out


def _check(key: bytes, tracks: np.ndarray, values: np.ndarray) -> int:
    c = zlib.crc32(key)
    c = zlib.crc32(np.ascontiguousarray(tracks, dtype="<i4").tobytes(), c)
    return zlib.crc32(np.ascontiguousarray(values, dtype="<f4").tobytes(), c)


# ---------------------------------------------------------------- parts


@dataclass
class PartRead:
    """The good rows of one part and what was dropped."""

    keys: list[bytes] = field(default_factory=list)
    tracks: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    corrupt_rows: int = 0
    error: str | None = None  # the part could not be read at all


def read_part(path: Path) -> PartRead:
    """A part's rows whose check holds; the rest counted (a part that cannot be read: ``error``)."""
    out = PartRead()
    try:
        table = pq.read_table(path, columns=list(PART_SCHEMA.names))
        keys = table.column("key").to_pylist()
        tcol, vcol = table.column("tracks").combine_chunks(), table.column("values").combine_chunks()
        checks = table.column("check").to_numpy()
        t_off, v_off = tcol.offsets.to_numpy(), vcol.offsets.to_numpy()
        t_flat = tcol.values.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        v_flat = vcol.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        if tcol.null_count or vcol.null_count or table.column("key").null_count:
            raise ValueError("null entries")
    except Exception as exc:  # truncated, not Parquet, another schema: nothing of it is served
        out.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return out
    for i, key in enumerate(keys):
        t = t_flat[t_off[i] : t_off[i + 1]]
        v = v_flat[v_off[i] : v_off[i + 1]]
        if key is None or len(key) != KEY_BYTES or t.size != v.size or _check(key, t, v) != int(checks[i]):
            out.corrupt_rows += 1
            continue
        out.keys.append(key)
        out.tracks.append(t)
        out.values.append(v)
    return out


def part_table(keys: Sequence[bytes], tracks: Sequence[np.ndarray], values: Sequence[np.ndarray]) -> pa.Table:
    """Entries as a part (the check computed here)."""
    checks = np.array([_check(k, t, v) for k, t, v in zip(keys, tracks, values, strict=True)], dtype=np.uint32)
    return pa.Table.from_arrays([
        pa.array(list(keys), pa.binary(KEY_BYTES)),
        pa.array([np.asarray(t, np.int32) for t in tracks], pa.list_(pa.int32())),
        pa.array([np.asarray(v, np.float32) for v in values], pa.list_(pa.float32())),
        pa.array(checks, pa.uint32()),
    ], schema=PART_SCHEMA)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_part(parts_dir: Path, table: pa.Table, name: str | None = None) -> Path:
    """Write ``table`` as ``parts_dir/<name or a new uuid>.parquet``: to a hidden temporary name, then renamed."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    final = parts_dir / f"{name or uuid.uuid4().hex}.parquet"
    tmp = parts_dir / f".{final.stem}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return final


def part_files(parts_dir: Path) -> list[Path]:
    """The complete parts of a model (temporary files, hidden, are not)."""
    if not parts_dir.is_dir():
        return []
    return sorted(p for p in parts_dir.iterdir() if p.suffix == ".parquet" and not p.name.startswith("."))


# ---------------------------------------------------------------- one model's entries


def _warn(text: str) -> None:
    print(f"seqbench prediction cache: {text}", file=sys.stderr, flush=True)


class ModelCache:
    """The entries of one model: an in-memory index loaded from its parts on first use, extended with
    every entry this process adds (a replica computes a repeated member once)."""

    def __init__(self, root: Path, key: str, describe: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.key = key
        self.key_bytes = bytes.fromhex(key)
        self.dir = self.root / key
        self.parts_dir = self.dir / "parts"
        self.describe = describe
        self._index: dict[bytes, tuple[int, int]] | None = None
        #: one block per distinct track list: (tracks int32 [T], rows of values float32 [T]);
        #: the index points at (block, row)
        self._blocks: list[tuple[np.ndarray, list[np.ndarray]]] = []
        self._block_of: dict[bytes, int] = {}
        self._pos: dict[tuple[int, bytes], np.ndarray | None] = {}
        self.corrupt_rows = 0
        self.bad_parts = 0
        self.parts_read = 0

    # -- index
    def _ensure(self) -> dict[bytes, tuple[int, int]]:
        if self._index is None:
            self._index = {}
            for p in part_files(self.parts_dir):
                got = read_part(p)
                self.parts_read += 1
                if got.error:
                    self.bad_parts += 1
                    _warn(f"{p}: cannot be read ({got.error}); its entries are recomputed, never served")
                    continue
                if got.corrupt_rows:
                    self.corrupt_rows += got.corrupt_rows
                    _warn(f"{p}: {got.corrupt_rows} entries fail their check; recomputed, never served")
                for k, t, v in zip(got.keys, got.tracks, got.values, strict=True):
                    self._put(k, t, v)
        return self._index

    def __len__(self) -> int:
        return len(self._ensure())

    def _entry(self, key: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        loc = self._ensure().get(key)
        if loc is None:
            return None
        tracks, rows = self._blocks[loc[0]]
        return tracks, rows[loc[1]]

    def _put(self, key: bytes, tracks: np.ndarray, values: np.ndarray) -> None:
        """Index ``values [T]`` of ``tracks`` under ``key``; a key already held with other tracks keeps
        the union (its old values for the tracks not given); a value already held stays."""
        index = self._index
        assert index is not None
        old = self._entry(key) if key in index else None
        tracks = np.asarray(tracks, np.int32)
        values = np.asarray(values, np.float32)
        if old is not None:
            o_tracks, o_values = old
            new = ~np.isin(tracks, o_tracks)
            if not new.any():
                return
            tracks = np.concatenate([o_tracks, tracks[new]])
            values = np.concatenate([o_values, values[new]])
        tag = tracks.tobytes()
        b = self._block_of.get(tag)
        if b is None:
            b = self._block_of[tag] = len(self._blocks)
            self._blocks.append((tracks.copy(), []))
        rows = self._blocks[b][1]
        rows.append(values.copy())
        index[key] = (b, len(rows) - 1)

    def _positions(self, block: int, tracks: np.ndarray, tag: bytes) -> np.ndarray | None:
        """Where each requested track sits in a block's tracks (None: one is missing)."""
        memo = (block, tag)
        if memo not in self._pos:
            where = {int(t): i for i, t in enumerate(self._blocks[block][0])}
            pos = [where.get(int(t)) for t in tracks]
            self._pos[memo] = None if any(p is None for p in pos) else np.asarray(pos, np.intp)
        return self._pos[memo]

    # -- use
    def holds(self, key: bytes) -> bool:
        """Whether ``key`` has an entry (with whatever tracks)."""
        return key in self._ensure()

    def lookup(self, keys: Sequence[bytes], tracks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(hit bool [B], values float32 [B, T])``: a hit holds every track of ``tracks``; values of
        misses are undefined."""
        index = self._ensure()
        tracks = np.asarray(tracks, np.int32)
        tag = tracks.tobytes()
        hit = np.zeros(len(keys), dtype=bool)
        values = np.zeros((len(keys), tracks.size), dtype=np.float32)
        for j, k in enumerate(keys):
            loc = index.get(k)
            if loc is None:
                continue
            pos = self._positions(loc[0], tracks, tag)
            if pos is None:
                continue
            values[j] = self._blocks[loc[0]][1][loc[1]][pos]
            hit[j] = True
        return hit, values

    def add(self, keys: Sequence[bytes], tracks: np.ndarray, values: np.ndarray) -> Path | None:
        """Index ``values [B, T]`` of ``tracks`` under ``keys`` and write them as one new part
        (with the tracks this process already held for a key, so an entry only ever grows)."""
        if not len(keys):
            return None
        self._ensure()
        tracks = np.asarray(tracks, np.int32)
        out_t, out_v = [], []
        for j, k in enumerate(keys):
            self._put(k, tracks, values[j])
            t, v = self._entry(k)  # type: ignore[misc]
            out_t.append(t)
            out_v.append(v)
        try:
            if self.describe is not None and not (self.dir / "model.json").is_file():
                _atomic_write(self.dir / "model.json", json.dumps(self.describe, indent=2, default=str).encode())
            return write_part(self.parts_dir, part_table(list(keys), out_t, out_v))
        except OSError as exc:  # a full or read-only cache costs reuse, never the job (the rows are computed)
            _warn(f"{self.parts_dir}: cannot add {len(keys)} entries ({exc}); they stay in this process only")
            return None


# ---------------------------------------------------------------- the whole store


def model_dirs(root: Path) -> list[Path]:
    """The model directories of a cache root (32 hex characters each)."""
    if not Path(root).is_dir():
        return []
    return sorted(p for p in Path(root).iterdir()
                  if p.is_dir() and len(p.name) == 32 and all(c in "0123456789abcdef" for c in p.name))


@dataclass
class VerifyReport:
    """What :func:`verify` found (and, with ``fix``, repaired)."""

    root: str
    models: int = 0
    parts: int = 0
    entries: int = 0  # good rows
    corrupt_rows: int = 0
    bad_parts: int = 0  # parts that cannot be read
    fixed_parts: int = 0  # rewritten without their corrupt rows
    removed_parts: int = 0  # unreadable, or with no good row left
    problems: list[str] = field(default_factory=list)

    @property
    def corrupt(self) -> bool:
        return bool(self.corrupt_rows or self.bad_parts)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("root", "models", "parts", "entries", "corrupt_rows", "bad_parts",
                                             "fixed_parts", "removed_parts", "problems")}


def verify(root: Path, *, fix: bool = False) -> VerifyReport:
    """Read every part of every model under ``root`` and check every row.

    With ``fix``, a part with corrupt rows is rewritten without them (a new part, then the old one
    removed) and a part that cannot be read, or has no good row, is removed; a job computes those
    members again when it needs them."""
    rep = VerifyReport(str(root))
    for mdir in model_dirs(root):
        rep.models += 1
        for p in part_files(mdir / "parts"):
            rep.parts += 1
            got = read_part(p)
            rel = p.relative_to(root).as_posix()
            if got.error:
                rep.bad_parts += 1
                rep.problems.append(f"{rel}: cannot be read ({got.error})")
                if fix:
                    p.unlink(missing_ok=True)
                    rep.removed_parts += 1
                continue
            rep.entries += len(got.keys)
            if got.corrupt_rows:
                rep.corrupt_rows += got.corrupt_rows
                rep.problems.append(f"{rel}: {got.corrupt_rows} of {got.corrupt_rows + len(got.keys)} rows fail"
                                    " their check")
                if fix:
                    if got.keys:
                        write_part(p.parent, part_table(got.keys, got.tracks, got.values))
                        rep.fixed_parts += 1
                    else:
                        rep.removed_parts += 1
                    p.unlink(missing_ok=True)
    return rep


def info(root: Path) -> list[dict[str, Any]]:
    """Per model directory: its key, what it is (``model.json``), parts, distinct entries and bytes."""
    out = []
    for mdir in model_dirs(root):
        parts = part_files(mdir / "parts")
        keys: set[bytes] = set()
        for p in parts:
            with contextlib.suppress(Exception):
                keys.update(pq.read_table(p, columns=["key"]).column("key").to_pylist())
        described: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            described = json.loads((mdir / "model.json").read_text())
        out.append({"model_key": mdir.name, "model": described, "parts": len(parts), "entries": len(keys),
                    "bytes": sum(p.stat().st_size for p in parts)})
    return out


def clear(root: Path, model_keys: Iterable[str] = ()) -> int:
    """Remove the entries of the given models (all models when none given); returns the directories removed.
    Memoised weight digests stay (they describe files, not predictions)."""
    wanted = set(model_keys)
    removed = 0
    for mdir in model_dirs(root):
        if wanted and mdir.name not in wanted:
            continue
        shutil.rmtree(mdir)
        removed += 1
    return removed
