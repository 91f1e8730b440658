"""Constructs: the plain-data description of one model input, before it exists.

A :class:`Construct` is a *source* (a reference chromosome of the genome, or a literal
sequence such as a plasmid, N beyond its ends) plus an ordered list of :class:`Edit` s and a
*landmark*: the position whose output bins are read (a TSS, a promoter midpoint, a variant).
Every experiment is "build constructs, read the landmark".

Coordinates
-----------
Edits are given in *source* coordinates, 0-based, half-open ``[start, end)``, sorted and
non-overlapping (an insertion is ``start == end``).  Every edit replaces ``[start, end)`` with
a payload; its length may differ, so later positions move by the accumulated length change.
The landmark is a source position, or :class:`InEdit` (an offset into an edit's payload, for
landmarks inside inserted sequence).  A source position strictly inside a length-changing
edit has no image in the edited sequence and is refused.

Windows
-------
At shift 0 the model input starts at ``window_start`` (a source position; the experiment's own
window, e.g. the Avsec CRISPRi windows) or, when that is ``None``, so that the landmark sits
at input position ``L // 2`` (Enformer: 196,608, the first base of output bin 448) — or at the
model's anchor (Xpresso: 7,000), on the construct's own strand.  A ``window_start`` is given for
the design's input length; a model with another input length takes the window with the same
centre, and a model with an anchor always puts the landmark at its anchor.

Orientation
-----------
``strand`` is the construct's own orientation (a gene's strand; ``+`` unless the experiment knows
better).  On ``−`` the model reads the reverse complement of the forward window as member ``+``;
at shift 0 the landmark then sits at input position ``L − 1 − anchor`` of the forward window, so
that it lands on the anchor once reversed.

Receptive-field restriction
---------------------------
:func:`keep_window` masks with N everything farther than ``w // 2`` bp from the landmark (a
window of ``w`` bp centred on it; experiments-spec §1.2), in the extended window, so that every
member keeps the same bases whatever its shift or strand.

Shift convention (one for all experiments): a member with shift ``s`` uses the window moved
by ``+s`` bp along the edited sequence, so its landmark sits at input position
``landmark_in_window − s``.  The authors' landing-pad generators label the same member
``offset = −s`` (experiments-spec §13 B19); their CRISPRi/multiplicativity generators use
``+s`` as here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from seqbench.sequence.codes import COMPLEMENT, N, encode
from seqbench.sequence.shuffles import shuffle


class ConstructError(ValueError):
    """A construct is inconsistent (overlapping edits, landmark lost in an edit, ...)."""


# ---------------------------------------------------------------- payloads


@dataclass(frozen=True)
class FromGenome:
    """Sequence taken from the genome: ``chrom[start:end)``, reverse-complemented if ``strand == '-'``."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def length(self, span: int) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Literal:
    """A literal sequence (A, C, G, T, N; case-insensitive)."""

    seq: str

    def length(self, span: int) -> int:
        return len(self.seq)


@dataclass(frozen=True)
class Shuffled:
    """The replaced source span itself, shuffled with ``seed`` (``kind`` ``'mono'`` or ``'di'``)."""

    seed: int
    kind: str = "mono"

    def length(self, span: int) -> int:
        return span


@dataclass(frozen=True)
class ShuffledGenome:
    """``chrom[start:end)`` from the genome, shuffled with ``seed`` (an element re-inserted elsewhere, shuffled)."""

    chrom: str
    start: int
    end: int
    seed: int
    kind: str = "mono"

    def length(self, span: int) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Masked:
    """The replaced source span as N (same length)."""

    def length(self, span: int) -> int:
        return span


Payload = FromGenome | Literal | Shuffled | ShuffledGenome | Masked


@dataclass(frozen=True)
class Edit:
    """Replace source ``[start, end)`` with ``payload``; ``expect`` checks the replaced reference."""

    start: int
    end: int
    payload: Payload
    expect: str | None = None

    @property
    def span(self) -> int:
        return self.end - self.start

    @property
    def delta(self) -> int:
        """Length change of the edited sequence (bp)."""
        return self.payload.length(self.span) - self.span


def replace(start: int, end: int, payload: Payload) -> Edit:
    return Edit(start, end, payload)


def insert(position: int, payload: Payload) -> Edit:
    """Insert before source ``position``."""
    return Edit(position, position, payload)


def delete(start: int, end: int) -> Edit:
    return Edit(start, end, Literal(""))


def substitute(position: int, ref: str, alt: str) -> Edit:
    """A variant: ``ref`` at ``position`` becomes ``alt`` (checked against the source)."""
    return Edit(position, position + len(ref), Literal(alt), expect=ref.upper())


def shuffle_region(start: int, end: int, seed: int, kind: str = "mono") -> Edit:
    return Edit(start, end, Shuffled(seed, kind))


def mask(start: int, end: int) -> Edit:
    return Edit(start, end, Masked())


# ---------------------------------------------------------------- construct


@dataclass(frozen=True)
class InEdit:
    """A landmark inside the payload of edit ``edit`` (index into ``Construct.edits``), at ``offset`` bp."""

    edit: int
    offset: int


@dataclass(frozen=True)
class Construct:
    """One model input, described (see the module docstring for coordinates).

    Exactly one of ``chrom`` (reference source) and ``literal`` (literal source) is set.
    """

    key: str
    landmark: int | InEdit
    chrom: str | None = None
    literal: str | None = None
    edits: tuple[Edit, ...] = field(default_factory=tuple)
    window_start: int | None = None
    strand: str = "+"

    def __post_init__(self) -> None:
        if self.strand not in ("+", "-"):
            raise ConstructError(f"construct {self.key}: strand {self.strand!r}; expected '+' or '-'")
        if (self.chrom is None) == (self.literal is None):
            raise ConstructError(f"construct {self.key}: give exactly one of chrom and literal")
        prev_end = None
        for i, e in enumerate(self.edits):
            if e.end < e.start:
                raise ConstructError(f"construct {self.key}: edit {i} has end {e.end} < start {e.start}")
            if prev_end is not None and e.start < prev_end:
                raise ConstructError(
                    f"construct {self.key}: edit {i} [{e.start}, {e.end}) overlaps or precedes the previous"
                    " edit; edits must be sorted and non-overlapping"
                )
            prev_end = e.end
        if isinstance(self.landmark, InEdit) and not 0 <= self.landmark.edit < len(self.edits):
            raise ConstructError(
                f"construct {self.key}: landmark names edit {self.landmark.edit}, which does not exist"
            )


# A source reader: (chrom, start, end) -> codes, N-padded outside the chromosome.
SourceReader = Callable[[str, int, int], np.ndarray]


def _literal_reader(codes: np.ndarray) -> SourceReader:
    def read(_chrom: str, start: int, end: int) -> np.ndarray:
        out = np.full(end - start, N, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, codes.size)
        if hi > lo:
            out[lo - start : hi - start] = codes[lo:hi]
        return out

    return read


def edited_position(construct: Construct, position: int) -> int:
    """Image of a source position in the edited sequence (see module docstring)."""
    shift = 0
    for e in construct.edits:
        if position >= e.end:  # an insertion at `position` goes before it
            shift += e.delta
        elif e.start <= position < e.end:
            if e.delta != 0:
                raise ConstructError(
                    f"construct {construct.key}: position {position} lies inside edit [{e.start}, {e.end}) that"
                    " changes length; give the landmark relative to the edit (InEdit)"
                )
            break
        else:
            break
    return position + shift


def landmark_position(construct: Construct) -> int:
    """The landmark's position in the edited sequence."""
    lm = construct.landmark
    if isinstance(lm, InEdit):
        e = construct.edits[lm.edit]
        if not 0 <= lm.offset < max(e.payload.length(e.span), 1):
            raise ConstructError(f"construct {construct.key}: landmark offset {lm.offset} is outside edit {lm.edit}")
        return e.start + sum(prev.delta for prev in construct.edits[: lm.edit]) + lm.offset
    return edited_position(construct, lm)


def _payload_codes(construct: Construct, e: Edit, read: SourceReader, genome_read: SourceReader | None) -> np.ndarray:
    p = e.payload
    if isinstance(p, Literal):
        return encode(p.seq, what=f"construct {construct.key}: literal payload")
    if isinstance(p, FromGenome):
        if genome_read is None:
            raise ConstructError(f"construct {construct.key}: a genome payload needs a genome")
        codes = genome_read(p.chrom, p.start, p.end)
        return COMPLEMENT[codes[::-1]] if p.strand == "-" else codes
    if isinstance(p, ShuffledGenome):
        if genome_read is None:
            raise ConstructError(f"construct {construct.key}: a genome payload needs a genome")
        return shuffle(genome_read(p.chrom, p.start, p.end), p.seed, p.kind)
    ref = read(construct.chrom or "", e.start, e.end)
    if isinstance(p, Shuffled):
        return shuffle(ref, p.seed, p.kind)
    if isinstance(p, Masked):
        return np.full(e.span, N, dtype=np.uint8)
    raise ConstructError(f"construct {construct.key}: unknown payload {p!r}")


def materialize(
    construct: Construct,
    genome_read: SourceReader | None,
    *,
    sequence_length: int,
    min_shift: int = 0,
    max_shift: int = 0,
    anchor: int | None = None,
    window_length: int | None = None,
) -> tuple[np.ndarray, int]:
    """Build the extended window covering every shift in ``[min_shift, max_shift]``.

    Returns ``(codes, landmark)``: uint8 codes of length ``sequence_length + max_shift − min_shift``
    whose slice ``[s − min_shift, s − min_shift + sequence_length)`` is the forward input of shift
    ``s``, and the landmark's index in ``codes``.  ``genome_read(chrom, start, end)`` returns codes
    N-padded beyond chromosome ends (see :meth:`seqbench.genome.Genome.fetch`).

    ``anchor``: the model's landmark position on the construct's strand (``None``: ``L // 2``); with an
    anchor the construct's ``window_start`` is not used.  ``window_length``: the input length a
    ``window_start`` was given for (``None``: ``sequence_length``); another length keeps its centre.
    """
    if construct.literal is not None:
        read = _literal_reader(encode(construct.literal, what=f"construct {construct.key}: literal"))
    elif genome_read is None:
        raise ConstructError(f"construct {construct.key}: a reference construct needs a genome")
    else:
        read = genome_read
    lm = landmark_position(construct)
    if construct.window_start is None or anchor is not None:
        at = sequence_length // 2 if anchor is None else int(anchor)
        # on the - strand the forward window holds the landmark at L - 1 - at, which reversing puts at `at`
        w0 = lm - (sequence_length - 1 - at if construct.strand == "-" else at)
    else:
        w0 = edited_position(construct, construct.window_start)
        if window_length is not None and window_length != sequence_length:
            w0 += (window_length - sequence_length) // 2  # the same centre, another length
    a = w0 + min_shift
    b = w0 + max_shift + sequence_length
    out = np.empty(b - a, dtype=np.uint8)

    for e in construct.edits:
        if e.expect is not None:
            got = read(construct.chrom or "", e.start, e.end)
            if not np.array_equal(got, encode(e.expect)):
                from seqbench.sequence.codes import decode

                raise ConstructError(
                    f"construct {construct.key}: reference at [{e.start}, {e.end}) is {decode(got)!r},"
                    f" expected {e.expect!r}"
                )

    # walk the edited sequence: reference pieces (edited = source + offset) and payloads
    offset = 0
    ref_from: int | None = None  # source start of the current reference piece (None = -inf)
    pieces: list[tuple[str, int, int, int, Edit | None]] = []  # kind, edited_start, edited_end, src_start
    for e in construct.edits:
        lo = a if ref_from is None else ref_from + offset
        pieces.append(("ref", lo, e.start + offset, offset, None))
        plen = e.payload.length(e.span)
        pieces.append(("edit", e.start + offset, e.start + offset + plen, 0, e))
        offset += e.delta
        ref_from = e.end
    lo = a if ref_from is None else ref_from + offset
    pieces.append(("ref", lo, max(b, lo), offset, None))

    for kind, es, ee, off, e in pieces:
        s, t = max(es, a), min(ee, b)
        if t <= s:
            continue
        if kind == "ref":
            out[s - a : t - a] = read(construct.chrom or "", s - off, t - off)
        else:
            assert e is not None
            codes = _payload_codes(construct, e, read, genome_read)
            out[s - a : t - a] = codes[s - es : t - es]
    return out, lm - a


def keep_window(extended: np.ndarray, landmark: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """``extended`` with every base outside ``[landmark - width // 2, landmark - width // 2 + width)`` set
    to N (a window of ``width`` bp on the landmark; odd widths such as 1,001 are centred exactly).

    Returns ``out`` (a new array unless given; it may be ``extended`` itself)."""
    if width < 1:
        raise ValueError(f"window width {width}: expected at least 1 bp")
    if out is None:
        out = extended.copy()
    elif out is not extended:
        out[:] = extended
    lo = max(0, landmark - width // 2)
    hi = max(lo, min(out.shape[-1], landmark - width // 2 + width))
    out[..., :lo] = N
    out[..., hi:] = N
    return out
