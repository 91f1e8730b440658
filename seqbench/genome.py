"""FASTA access through pyfaidx, as uint8 codes.

Coordinates are 0-based, half-open ``[start, end)`` everywhere.  Sequence is upper-cased
(soft-masking ignored); positions off either end of a chromosome read as ``N`` so that a
window near a telomere keeps its length.

IUPAC ambiguity codes (R, Y, K, M, S, W, B, D, H, V, upper or lower case) and any other byte
that is not A, C, G, T or N read as ``N`` (code 4), which one-hot encodes as an all-zero row,
as the paper authors' encoding did.  They are *counted*, not hidden: :meth:`Genome.ambiguous_count`
gives the number in any interval (cheap: positions are recorded when a chromosome is encoded),
and :attr:`Genome.ambiguous_read` accumulates the number in everything :meth:`Genome.fetch`
(and so :meth:`Genome.read_padded`) has returned.  ``N`` itself and positions off a chromosome
end are not counted.

At open the ``.fai`` index is checked against the FASTA with a few small reads per sequence
(header line, line layout, where the data ends), so that an index written for another FASTA
is refused rather than trusted; a plain-gzip FASTA (not bgzip) is refused with what to do.
:meth:`Genome.identity` gives a cheap fingerprint of the FASTA for a job manifest.

Whole chromosomes are encoded once and kept in a small byte-bounded LRU cache: experiments
read many windows from the same few loci, and slicing an in-memory code array is ~100x
faster than asking pyfaidx for 393 kb each time.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from seqbench.sequence.codes import N

# every byte maps to a code; unknown letters (IUPAC ambiguity codes) become N
_LUT = np.full(256, N, dtype=np.uint8)
for _i, _ch in enumerate("ACGT"):
    _LUT[ord(_ch)] = _i
    _LUT[ord(_ch.lower())] = _i

#: bytes that read as N without being N: IUPAC ambiguity codes and anything else not ACGTN
_AMBIG = np.ones(256, dtype=bool)
for _ch in "ACGTNacgtn":
    _AMBIG[ord(_ch)] = False
_ACGTN = b"ACGTNacgtn"
_NO_POSITIONS = np.empty(0, dtype=np.int64)

#: FASTA identity: this many blocks of this many bytes, evenly spaced (the whole file when smaller)
_ID_BLOCKS = 64
_ID_BLOCK_BYTES = 64 * 1024


def _ambiguous_positions(raw: bytes) -> np.ndarray:
    """Sorted offsets of the bytes of ``raw`` that are not A, C, G, T or N (either case).
    ``bytes.translate`` finds the common case (none) ~4x faster than a table lookup."""
    if not raw.translate(None, _ACGTN):
        return _NO_POSITIONS
    return np.flatnonzero(_AMBIG[np.frombuffer(raw, dtype=np.uint8)])


#: pieces shorter than this are read straight from the FASTA unless their chromosome is cached
_DIRECT_READ_BP = 65_536


class GenomeError(ValueError):
    """The FASTA cannot serve a request (missing file or index, unknown chromosome, ...)."""


def _compression(path: Path, head: bytes, f) -> str | None:
    """``None`` for a plain file, ``"bgzf"`` for bgzip; refuse plain gzip (pyfaidx cannot seek
    in it) and bgzip without BioPython (pyfaidx reads bgzip through it).  ``f`` is positioned
    after the 12 bytes of ``head``."""
    if head[:2] != b"\x1f\x8b":
        return None
    extra = b""
    if len(head) == 12 and head[3] & 0x04:  # FEXTRA: subfields SI1 SI2 LEN(2) data
        extra = f.read(int.from_bytes(head[10:12], "little"))
    i, bgzf = 0, False
    while i + 4 <= len(extra):
        size = int.from_bytes(extra[i + 2 : i + 4], "little")
        bgzf = bgzf or (extra[i : i + 2] == b"BC" and size == 2)
        i += 4 + size
    if not bgzf:
        raise GenomeError(
            f"{path}: a gzip-compressed FASTA; seqbench needs a plain or bgzip-compressed FASTA with its index:"
            f" `gunzip` it (then seqbench indexes it), or recompress it with `bgzip` and run `samtools faidx`"
        )
    try:
        import Bio.bgzf  # noqa: F401
    except ImportError:
        raise GenomeError(
            f"{path}: a bgzip-compressed FASTA, and reading one needs BioPython, which is not installed:"
            " `pip install biopython`, or decompress it (`bgzip -d`) and use the plain FASTA"
        ) from None
    return "bgzf"


def _read_fai(fai: Path) -> list[tuple[str, int, int, int, int, int]]:
    """The ``.fai`` records in file order: ``(name, length, offset, bases per line, bytes per
    line, end)``, ``end`` being where the sequence's data ends as samtools counts it (after the
    line break of a full last line, right after the last base of a short one)."""
    records = []
    for n, line in enumerate(fai.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            rlen, offset, lenc, lenb = (int(x) for x in fields[1:5])
        except ValueError:
            raise GenomeError(
                f"{fai}: line {n} is not a FASTA index record; delete {fai.name} so it is rebuilt"
            ) from None
        full, rest = divmod(rlen, lenc) if lenc > 0 else (0, rlen)
        end = offset + full * lenb + rest
        records.append((fields[0], rlen, offset, lenc, lenb, end))
    return records


class Genome:
    """A FASTA file read through pyfaidx.

    Parameters
    ----------
    path:
        FASTA file, plain or bgzip-compressed (bgzip needs BioPython, and pyfaidx writes a
        ``.gzi`` block index next to it when there is none).  A missing ``.fai`` index is built
        next to the file (its directory must then be writable).  Refused at open: a directory,
        a plain-gzip FASTA, a stale index (older than the FASTA), a FASTA shorter than its index
        says (truncated), and an index whose records do not match the FASTA (see
        :meth:`_check_index`).
    cache_bytes:
        upper bound on encoded chromosomes kept in memory (default 2 GiB).

    Attributes
    ----------
    ambiguous_read:
        running count of ambiguity bases (not ACGTN, read as ``N``) in everything
        :meth:`fetch` has returned from this object; a caller may read it, or reset it to 0,
        around its reads.  Not shipped when the object is pickled (a copy starts at 0).
    """

    def __init__(self, path: str | os.PathLike[str], *, cache_bytes: int = 2 << 30):
        import pyfaidx

        self.path = Path(path)
        if self.path.is_dir():
            raise GenomeError(f"{self.path}: is a directory; expected a FASTA file")
        if not self.path.is_file():
            raise GenomeError(f"{self.path}: FASTA file not found (expected an indexed genome FASTA)")
        try:
            with open(self.path, "rb") as f:
                head = f.read(12)
                self.compression = _compression(self.path, head, f)
        except OSError as exc:
            raise GenomeError(f"{self.path}: FASTA file cannot be read ({exc.strerror})") from exc
        fai = Path(str(self.path) + ".fai")
        gzi = Path(str(self.path) + ".gzi")
        for index in (fai, gzi) if self.compression == "bgzf" else (fai,):
            if index.exists() and index.stat().st_mtime < self.path.stat().st_mtime:
                raise GenomeError(f"{index}: index is older than {self.path.name}; delete it so it can be rebuilt")
        unindexed = not fai.exists() or (self.compression == "bgzf" and not gzi.exists())
        if unindexed and not os.access(self.path.parent, os.W_OK):
            raise GenomeError(self._cannot_index(fai))
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), sequence_always_upper=True, as_raw=True, rebuild=False)
        except OSError as exc:
            if unindexed and not fai.is_file():  # pyfaidx could not write the index it built
                raise GenomeError(self._cannot_index(fai)) from exc
            raise GenomeError(f"{self.path}: cannot read as an indexed FASTA ({exc})") from exc
        except Exception as exc:  # pyfaidx raises several types for broken files
            dup = re.fullmatch(r'Duplicate key "(.*)"', str(exc))
            if dup:  # pyfaidx has written the index (with both records) before it refuses it
                stale = f", then delete {fai.name}" if fai.exists() else ""
                raise GenomeError(
                    f"{self.path}: sequence name {dup.group(1)!r} is used by more than one '>' header line;"
                    f" expected unique sequence names (rename or remove the duplicate{stale})"
                ) from exc
            raise GenomeError(f"{self.path}: cannot read as an indexed FASTA ({exc})") from exc
        self._fai = fai
        self._records = _read_fai(fai)
        self._check_size(fai)
        self._check_index()
        self.lengths: dict[str, int] = {k: len(v) for k, v in self._fasta.records.items()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._ambiguous: dict[str, np.ndarray] = {}  # chromosome -> sorted positions, for encoded ones
        self._cache_bytes = cache_bytes
        self._identity: dict | None = None
        self.ambiguous_read = 0

    def _cannot_index(self, fai: Path) -> str:
        return (
            f"{self.path}: FASTA has no index ({fai.name}) and seqbench cannot build one: {self.path.parent} is not"
            f" writable; index it once where you can write (`samtools faidx {self.path.name}`) or copy it to a"
            " writable directory"
        )

    def _check_size(self, fai: Path) -> None:
        """Refuse a FASTA shorter than its index says (a truncated download or copy): pyfaidx
        would silently return short sequences.  Skipped for bgzip files (the reads are checked)."""
        if self.compression:
            return
        size = self.path.stat().st_size
        for name, rlen, _offset, lenc, lenb, end in self._records:
            # a file may lack the line break after a full last line
            if end - (lenb - lenc if lenc > 0 and rlen and rlen % lenc == 0 else 0) > size:
                raise GenomeError(
                    f"{self.path}: truncated: {fai.name} says sequence {name!r} ends at byte {end:,} but the file"
                    f" has {size:,} bytes; re-download the FASTA (or, if the FASTA is right, delete {fai.name}"
                    " so it is re-indexed)"
                )

    def _read_at(self, pos: int, n: int) -> bytes:
        """Up to ``n`` bytes of the (uncompressed) FASTA from byte ``pos``; fewer at the end."""
        if pos < 0:
            n, pos = n + pos, 0
        if n <= 0:
            return b""
        faidx = self._fasta.faidx
        if self.compression != "bgzf":
            return os.pread(faidx.file.fileno(), n, pos)
        from pyfaidx import make_virtual_offset

        with faidx.lock:  # as pyfaidx's own reads: find the block through the .gzi
            blocks = faidx.gzi_index
            i = bisect.bisect_left(blocks, pos)
            block = blocks[i] if i == 0 else blocks[i - 1]
            try:
                faidx.file.seek(make_virtual_offset(block.cstart, pos - block.ustart))
                return faidx.file.read(n)
            except (ValueError, OSError):  # past the end
                return b""

    def _check_index(self) -> None:
        """Refuse a ``.fai`` whose records do not describe this FASTA (an index written for
        another file, or a FASTA edited after it, with the index touched newer).  A few small
        reads per sequence, never the whole file: each record's offset follows its own header
        line, its line layout is consistent, its first and last lines end where the index says,
        and its data ends where the next header (or the file) starts."""
        if self.compression == "bgzf" and not hasattr(self._fasta.faidx, "gzi_index"):
            return  # a pyfaidx without .gzi support: its reads are still length-checked
        records = sorted(self._records, key=lambda r: r[2])
        header_start = self._check_header(records[0][0], records[0][2]) if records else 0
        for k, (name, rlen, offset, lenc, lenb, _end) in enumerate(records):
            nl = lenb - lenc
            if rlen < 0 or (rlen > 0 and lenc < 1):
                self._index_mismatch(name, f"length {rlen} with {lenc} bases per line is impossible")
            if rlen > 0 and not (1 <= nl <= 2 or (nl == 0 and rlen <= lenc)):
                self._index_mismatch(name, f"{lenc} bases per line in {lenb} bytes per line is inconsistent")
            full, rest = divmod(rlen, lenc) if rlen else (0, 0)
            last = k == len(records) - 1
            if full >= 1:  # the first and the last full lines end in a line break where the index says
                for line in sorted({1, full}):
                    self._check_line_end(name, offset + line * lenb - nl, nl, last and line == full and not rest)
            if rest:
                self._check_line_end(name, offset + full * lenb + rest, nl, last)
            data_end = offset + full * lenb + (rest + nl if rest else 0)
            if last:
                if self._read_at(data_end, 1 << 16).strip(b"\r\n"):
                    self._index_mismatch(name, f"its data ends at byte {data_end:,} but the file goes on after it")
                break
            header_start = self._check_header(records[k + 1][0], records[k + 1][2])
            if data_end > header_start:
                self._index_mismatch(
                    name, f"its data would end at byte {data_end:,}, past the next header at byte {header_start:,}"
                )
            gap = self._read_at(data_end, min(header_start - data_end, 1 << 16))
            if header_start - data_end > len(gap) or gap.strip(b"\r\n"):  # only blank lines may come between
                self._index_mismatch(
                    name, f"its data ends at byte {data_end:,} but the next header starts at byte {header_start:,}"
                )

    def _check_header(self, name: str, offset: int) -> int:
        """The byte offset of the ``>`` header line that must end just before ``offset``."""
        if offset < 2:
            self._index_mismatch(name, f"offset {offset} leaves no room for a header line")
        window = 256
        while True:
            lo = max(offset - window, 0)
            text = self._read_at(lo, offset - lo)
            if len(text) < offset - lo or not text.endswith(b"\n"):
                self._index_mismatch(name, f"the byte before offset {offset:,} is not a line break")
            cut = text.rfind(b"\n", 0, len(text) - 1)
            if cut >= 0 or lo == 0 or window >= 1 << 20:
                break
            window *= 4
        start = lo + cut + 1
        line = text[cut + 1 :].rstrip(b"\r\n").decode("latin-1")
        if not line.startswith(">"):
            self._index_mismatch(
                name, f"offset {offset:,} does not follow a header line (the line before it is {line[:40]!r})"
            )
        words = line[1:].split()
        if not words or words[0] != name:
            self._index_mismatch(
                name, f"the header line before offset {offset:,} is {line[:60]!r}, not a header of {name!r}"
            )
        return start

    def _check_line_end(self, name: str, at: int, nl: int, may_end_file: bool) -> None:
        """A base at ``at - 1`` and a line break (``nl`` bytes) at ``at``; or the end of the file
        there when ``may_end_file`` (a FASTA without a final newline)."""
        got = self._read_at(at - 1, 1 + nl)
        base_ok = len(got) >= 1 and got[:1] not in (b"\n", b"\r", b">")
        end_ok = got[1:] == (b"\r\n" if nl == 2 else b"\n" if nl == 1 else b"") or (may_end_file and len(got) == 1)
        if not (base_ok and end_ok):
            self._index_mismatch(
                name, f"no line ends at byte {at:,} (read {got!r}): the line width is not what the index says"
            )

    def _index_mismatch(self, name: str, what: str) -> None:
        raise GenomeError(
            f"{self._fai}: does not match {self.path.name}: sequence {name!r}: {what}; delete {self._fai.name} so it"
            f" is rebuilt (or run `samtools faidx {self.path.name}`)"
        )

    def identity(self) -> dict:
        """A cheap, deterministic fingerprint of the FASTA, for a job manifest.

        ``{"size_bytes", "sequences", "total_bp", "blake2b", "scheme"}``: ``blake2b`` is a
        BLAKE2b-256 hex digest over the file size, the ``.fai`` records (name, length, offset,
        bases and bytes per line, as validated at open) and 64 blocks of 64 KiB of the file as
        stored (compressed bytes for bgzip) at evenly spaced offsets, first and last block
        included; a file under 4 MiB is hashed whole.  About 4 MiB read, whatever the size.

        Detects: a different size, different sequence names, lengths or line layout, and any
        change inside a sampled block (the headers at the start, the end of the file).  Does
        NOT detect a same-size substitution between sampled blocks (for hg38 about 98.6% of
        the bytes are not sampled: one base edited in place is usually missed).  Independent of
        the path, the modification time and which tool wrote the index.  Computed once per
        object.
        """
        if self._identity is not None:
            return dict(self._identity)
        h = hashlib.blake2b(digest_size=32)
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            h.update(b"seqbench-fasta-identity-v1\0" + size.to_bytes(8, "little"))
            for name, rlen, offset, lenc, lenb, _end in self._records:
                h.update(f"{name}\t{rlen}\t{offset}\t{lenc}\t{lenb}\n".encode())
            h.update(b"\0")
            if size <= _ID_BLOCKS * _ID_BLOCK_BYTES:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            else:
                step_span = size - _ID_BLOCK_BYTES
                for k in range(_ID_BLOCKS):
                    h.update(os.pread(f.fileno(), _ID_BLOCK_BYTES, k * step_span // (_ID_BLOCKS - 1)))
        self._identity = {
            "size_bytes": size,
            "sequences": len(self._records),
            "total_bp": sum(r[1] for r in self._records),
            "blake2b": h.hexdigest(),
            "scheme": (
                f"blake2b-256 over size, .fai records and {_ID_BLOCKS} evenly spaced {_ID_BLOCK_BYTES // 1024} KiB"
                f" blocks (whole file up to {_ID_BLOCKS * _ID_BLOCK_BYTES // 2**20} MiB)"
            ),
        }
        return dict(self._identity)

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
                f"{self._near_name(str(chrom))}"
            )

    def _near_name(self, chrom: str) -> str:
        """``; did you mean 'chr1'?`` for a name that differs from one in the FASTA only by spaces, case or 'chr'."""
        plain = chrom.strip()
        candidates = [plain, plain.lower(), f"chr{plain}", plain.removeprefix("chr"), plain.removeprefix("Chr")]
        by_lower = {k.lower(): k for k in self.lengths}
        for c in candidates:
            hit = c if c in self.lengths else by_lower.get(c.lower())
            if hit is not None and hit != chrom:
                why = " (the cell has spaces around it)" if plain != chrom and plain == hit else ""
                return f"; did you mean {hit!r}?{why}"
        return ""

    def _chrom_codes(self, chrom: str) -> np.ndarray:
        codes = self._cache.get(chrom)
        if codes is not None:
            self._cache.move_to_end(chrom)
            return codes
        self.check_chrom(chrom)
        raw = self._read(chrom, 0, self.lengths[chrom]).encode("ascii")
        codes = _LUT[np.frombuffer(raw, dtype=np.uint8)]
        codes.setflags(write=False)
        if chrom not in self._ambiguous:  # kept after the codes are evicted: a few positions at most
            positions = _ambiguous_positions(raw)
            self._ambiguous[chrom] = positions.astype(np.uint32) if len(raw) < 1 << 32 else positions
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
            raw = self._read(chrom, lo, hi).encode("ascii")
            piece = _LUT[np.frombuffer(raw, dtype=np.uint8)]
            if raw.translate(None, _ACGTN):
                self.ambiguous_read += len(_ambiguous_positions(raw))
        else:
            piece = self._chrom_codes(chrom)[lo:hi] if hi > lo else np.empty(0, dtype=np.uint8)
            if len(positions := self._ambiguous[chrom]):
                self.ambiguous_read += int(np.searchsorted(positions, hi) - np.searchsorted(positions, lo))
        if lo == start and hi == end:
            return piece
        out = np.full(end - start, N, dtype=np.uint8)
        if hi > lo:
            out[lo - start : hi - start] = piece
        return out

    def ambiguous_count(self, chrom: str, start: int = 0, end: int | None = None) -> int:
        """How many bases of ``chrom[start:end)`` (default: the whole chromosome) are ambiguity
        codes or other non-ACGTN bytes, which :meth:`fetch` returns as ``N``.  Positions off the
        chromosome count 0.  Cheap once the chromosome is encoded (two binary searches over its
        few ambiguity positions, kept per chromosome); a short piece of a chromosome not yet
        encoded is read directly, a long one encodes the chromosome.  Does not change
        :attr:`ambiguous_read`."""
        length = self.lengths.get(chrom)
        if length is None:
            self.check_chrom(chrom)
        assert length is not None
        end = length if end is None else end
        if end < start:
            raise GenomeError(f"{chrom}:{start}-{end}: end is before start")
        lo, hi = max(start, 0), min(end, length)
        if hi <= lo:
            return 0
        positions = self._ambiguous.get(chrom)
        if positions is None and hi - lo < _DIRECT_READ_BP:
            return len(_ambiguous_positions(self._read(chrom, lo, hi).encode("ascii")))
        if positions is None:
            self._chrom_codes(chrom)
            positions = self._ambiguous[chrom]
        return int(np.searchsorted(positions, hi) - np.searchsorted(positions, lo)) if len(positions) else 0

    def read_padded(self, chrom: str, start: int, end: int) -> np.ndarray:
        """:meth:`fetch` with ``allow_outside=True``: the reader constructs materialize from."""
        return self.fetch(chrom, start, end, allow_outside=True)

    def fetch_str(self, chrom: str, start: int, end: int) -> str:
        """Like :meth:`fetch`, as an upper-case string."""
        from seqbench.sequence.codes import decode

        return decode(self.fetch(chrom, start, end))
