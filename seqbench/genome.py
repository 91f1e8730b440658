"""FASTA access through pyfaidx, as uint8 codes.

Coordinates are 0-based, half-open ``[start, end)`` everywhere.  Sequence is upper-cased
(soft-masking ignored); positions off either end of a chromosome read as ``N`` so that a
window near a telomere keeps its length.  Any other IUPAC letter in the FASTA (R, Y, ...)
reads as ``N``.

Whole chromosomes are encoded once and kept in a small byte-bounded LRU cache: experiments
read many windows from the same few loci, and slicing an in-memory code array is ~100x
faster than asking pyfaidx for 393 kb each time.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from seqbench.sequence.codes import N

# every byte maps to a code; unknown letters (IUPAC ambiguity codes) become N
_LUT = np.full(256, N, dtype=np.uint8)
for _i, _ch in enumerate("ACGT"):
    _LUT[ord(_ch)] = _i
    _LUT[ord(_ch.lower())] = _i


#: pieces shorter than this are read straight from the FASTA unless their chromosome is cached
_DIRECT_READ_BP = 65_536


class GenomeError(ValueError):
    """The FASTA cannot serve a request (missing file or index, unknown chromosome, ...)."""


class Genome:
    """A FASTA file read through pyfaidx.

    Parameters
    ----------
    path:
        FASTA file (plain or bgzip-compressed, as pyfaidx supports).  A missing ``.fai``
        index is built next to the file (its directory must then be writable); a stale one
        (older than the FASTA) is refused, and so is a FASTA shorter than its index says
        (truncated).
    cache_bytes:
        upper bound on encoded chromosomes kept in memory (default 2 GiB).
    """

    def __init__(self, path: str | os.PathLike[str], *, cache_bytes: int = 2 << 30):
        import pyfaidx

        self.path = Path(path)
        if not self.path.is_file():
            raise GenomeError(f"{self.path}: FASTA file not found (expected an indexed genome FASTA)")
        try:
            with open(self.path, "rb"):
                pass
        except OSError as exc:
            raise GenomeError(f"{self.path}: FASTA file cannot be read ({exc.strerror})") from exc
        fai = Path(str(self.path) + ".fai")
        if fai.exists() and fai.stat().st_mtime < self.path.stat().st_mtime:
            raise GenomeError(f"{fai}: index is older than {self.path.name}; delete it so it can be rebuilt")
        unindexed = not fai.exists()
        if unindexed and not os.access(self.path.parent, os.W_OK):
            raise GenomeError(self._cannot_index(fai))
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), sequence_always_upper=True, as_raw=True, rebuild=False)
        except OSError as exc:
            if unindexed and not fai.is_file():  # pyfaidx could not write the index it built
                raise GenomeError(self._cannot_index(fai)) from exc
            raise GenomeError(f"{self.path}: cannot read as an indexed FASTA ({exc})") from exc
        except Exception as exc:  # pyfaidx raises several types for broken files
            raise GenomeError(f"{self.path}: cannot read as an indexed FASTA ({exc})") from exc
        self._check_size(fai)
        self.lengths: dict[str, int] = {k: len(v) for k, v in self._fasta.records.items()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_bytes = cache_bytes

    def _cannot_index(self, fai: Path) -> str:
        return (
            f"{self.path}: FASTA has no index ({fai.name}) and seqbench cannot build one: {self.path.parent} is not"
            f" writable; index it once where you can write (`samtools faidx {self.path.name}`) or copy it to a"
            " writable directory"
        )

    def _check_size(self, fai: Path) -> None:
        """Refuse a FASTA shorter than its index says (a truncated download or copy): pyfaidx
        would silently return short sequences.  Skipped for compressed files."""
        if self.path.suffix in (".gz", ".bgz", ".bgzf"):
            return
        size = self.path.stat().st_size
        index = getattr(getattr(self._fasta, "faidx", None), "index", {})
        for name, rec in index.items():
            try:  # pyfaidx's IndexRecord: rlen bases from byte offset, lenc bases per line of lenb bytes
                full, rest = divmod(rec.rlen, rec.lenc) if rec.lenc else (0, 0)
                end = rec.offset + full * rec.lenb + rest
            except (AttributeError, TypeError):  # another pyfaidx layout: the reads are still checked
                return
            if end > size:
                raise GenomeError(
                    f"{self.path}: truncated: {fai.name} says sequence {name!r} ends at byte {end:,} but the file"
                    f" has {size:,} bytes; re-download the FASTA (or, if the FASTA is right, delete {fai.name}"
                    " so it is re-indexed)"
                )

    def _read(self, chrom: str, lo: int, hi: int) -> str:
        """``chrom[lo:hi)`` as pyfaidx returns it, checked for length (0 <= lo <= hi <= length)."""
        try:
            raw = self._fasta[chrom][lo:hi] if hi > lo else ""
        except Exception as exc:  # pyfaidx.FetchError, OSError, ...
            raise GenomeError(
                f"{self.path}: cannot read {chrom}:{lo}-{hi} ({exc}); re-download the FASTA or delete its .fai"
                " so it is re-indexed"
            ) from exc
        if len(raw) != hi - lo:
            raise GenomeError(
                f"{self.path}: {chrom}:{lo}-{hi} read {len(raw):,} bp, expected {hi - lo:,}: the FASTA is truncated"
                " or does not match its .fai; re-download the FASTA or delete its .fai so it is re-indexed"
            )
        return raw

    def __getstate__(self) -> dict:
        # pyfaidx handles are not picklable; ship the path and re-open on the other side
        return {"path": str(self.path), "cache_bytes": self._cache_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], cache_bytes=state["cache_bytes"])  # type: ignore[misc]

    def __contains__(self, chrom: str) -> bool:
        return chrom in self.lengths

    def check_chrom(self, chrom: str, *, where: str = "") -> None:
        """Raise :class:`GenomeError` unless ``chrom`` is in the FASTA."""
        if chrom not in self.lengths:
            known = ", ".join(list(self.lengths)[:6])
            raise GenomeError(
                f"{where + ': ' if where else ''}chromosome {chrom!r} is not in {self.path.name}"
                f" (it has {len(self.lengths)} sequences: {known}{', ...' if len(self.lengths) > 6 else ''})"
            )

    def _chrom_codes(self, chrom: str) -> np.ndarray:
        codes = self._cache.get(chrom)
        if codes is not None:
            self._cache.move_to_end(chrom)
            return codes
        self.check_chrom(chrom)
        raw = self._read(chrom, 0, self.lengths[chrom])
        codes = _LUT[np.frombuffer(raw.encode("ascii"), dtype=np.uint8)]
        codes.setflags(write=False)
        self._cache[chrom] = codes
        while sum(c.nbytes for c in self._cache.values()) > self._cache_bytes and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return codes

    def fetch(self, chrom: str, start: int, end: int, *, allow_outside: bool = False) -> np.ndarray:
        """Codes of ``chrom[start:end)`` (0-based, half-open), N-padded past either end.

        An interval lying entirely off the chromosome is refused unless ``allow_outside``: it
        is almost always a coordinate mistake, not a telomere.  (Construct materialization
        allows it for the pieces of a window that straddles a chromosome end.)
        """
        if end < start:
            raise GenomeError(f"{chrom}:{start}-{end}: end is before start")
        length = self.lengths.get(chrom)
        if length is None:
            self.check_chrom(chrom)
        assert length is not None
        if not allow_outside and end > start and (end <= 0 or start >= length):
            raise GenomeError(f"{chrom}:{start}-{end} lies entirely outside the chromosome (length {length})")
        lo, hi = max(start, 0), min(end, length)
        if hi - lo < _DIRECT_READ_BP and chrom not in self._cache:
            # a short piece of a chromosome we do not hold: read it directly rather than
            # decoding the whole chromosome (candidate elements come from everywhere)
            raw = self._read(chrom, lo, hi)
            piece = _LUT[np.frombuffer(raw.encode("ascii"), dtype=np.uint8)]
        else:
            piece = self._chrom_codes(chrom)[lo:hi] if hi > lo else np.empty(0, dtype=np.uint8)
        if lo == start and hi == end:
            return piece
        out = np.full(end - start, N, dtype=np.uint8)
        if hi > lo:
            out[lo - start : hi - start] = piece
        return out

    def read_padded(self, chrom: str, start: int, end: int) -> np.ndarray:
        """:meth:`fetch` with ``allow_outside=True``: the reader constructs materialize from."""
        return self.fetch(chrom, start, end, allow_outside=True)

    def fetch_str(self, chrom: str, start: int, end: int) -> str:
        """Like :meth:`fetch`, as an upper-case string."""
        from seqbench.sequence.codes import decode

        return decode(self.fetch(chrom, start, end))
