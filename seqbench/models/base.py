"""What every model adapter provides: geometry, a track table, and a narrow ``predict``.

Shapes and conventions
----------------------
``codes``   uint8 ``[B, L]``: model inputs already in the member's orientation (codes 0..4, see
            :mod:`seqbench.sequence.codes`); one-hot encoding happens inside ``predict``, on the
            model's device, with ``N`` encoded as the model's neutral value.
``bins``    int32 ``[B, K]``: output-bin indices to read for each input (0-based, may repeat).
``tracks``  int32 ``[T]``: output-track indices to read.
returns     float32 ``[B, K, T]`` — only what was asked leaves the device.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Geometry:
    """Input/output geometry of a sequence model.

    ``sequence_length`` bp in; ``n_bins`` output bins of ``bin_size`` bp; the first output bin
    starts ``offset`` bp into the input.  Position ``p`` of the input (0-based) falls in output
    bin ``(p - offset) // bin_size`` when ``0 <= p - offset < n_bins * bin_size``.  The predicted
    span need not be centred (``offset`` may be 0, or leave more input on one side).

    ``anchor``: the input position (0-based, on the member's own strand) where a construct's landmark
    sits at shift 0; ``None`` is the centre ``L // 2`` (Enformer: 196,608, the first base of bin 448).
    A model with an anchor (Xpresso: the TSS at 7,000) reads every input in the construct's own
    orientation (see :mod:`seqbench.sequence.ensemble`).

    A *scalar* model (one value per input, Xpresso) is one bin spanning the whole input:
    ``bin_size = sequence_length``, ``offset = 0``, ``n_bins = 1``; see :meth:`scalar_of`.
    """

    sequence_length: int
    bin_size: int
    offset: int
    n_bins: int
    anchor: int | None = None

    @classmethod
    def scalar_of(cls, sequence_length: int, anchor: int | None = None) -> Geometry:
        """The geometry of a model that returns one value per input of ``sequence_length`` bp."""
        return cls(sequence_length, sequence_length, 0, 1, anchor)

    @property
    def scalar(self) -> bool:
        """One value per input (no bins to read around the landmark)."""
        return self.n_bins == 1 and self.offset == 0 and self.bin_size == self.sequence_length

    @property
    def landmark_position(self) -> int:
        """Input position of a construct's landmark at shift 0 (``anchor``, else ``L // 2``)."""
        return self.sequence_length // 2 if self.anchor is None else self.anchor

    def bin_of(self, position: int | np.ndarray) -> int | np.ndarray:
        """Output bin of an input position (0-based); may fall outside ``0..n_bins-1``."""
        return (
            (np.asarray(position) - self.offset) // self.bin_size
            if isinstance(position, np.ndarray)
            else (position - self.offset) // self.bin_size
        )

    def describe(self) -> str:
        if self.scalar:
            at = f", landmark at {self.landmark_position}" if self.anchor is not None else ""
            return f"{self.sequence_length:,} bp in, one value out{at}"
        return (f"{self.sequence_length:,} bp in, {self.n_bins} bins of {self.bin_size} bp out, first bin at"
                f" {self.offset:,}")

    def validate(self) -> None:
        """``ValueError`` (one line, naming the field) for a geometry no model can have."""
        for name in ("sequence_length", "bin_size", "n_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: expected at least 1")
        if self.offset < 0:
            raise ValueError(f"offset = {self.offset}: expected at least 0")
        end = self.offset + self.n_bins * self.bin_size
        if end > self.sequence_length:
            raise ValueError(
                f"geometry: offset {self.offset} + {self.n_bins} bins x {self.bin_size} bp = {end} bp runs past the"
                f" input of {self.sequence_length} bp; expected offset + n_bins x bin_size <= sequence_length"
            )
        if self.anchor is not None and not 0 <= self.anchor < self.sequence_length:
            raise ValueError(f"anchor = {self.anchor}: expected 0 <= anchor < {self.sequence_length}")


#: Enformer (Avsec et al. 2021): 393,216 bp in, 896 bins of 128 bp, first bin at 139,264.
ENFORMER_GEOMETRY = Geometry(sequence_length=393_216, bin_size=128, offset=139_264, n_bins=896)
#: Basenji2 (Kelley 2020, cross2020 ``model_human.h5``): 131,072 bp in; ``target_length`` 1,024 then
#: ``Cropping1D(64)``: 896 bins of 128 bp, first bin at 8,192 (experiments-spec §13 B1; read at load)
BASENJI2_GEOMETRY = Geometry(sequence_length=131_072, bin_size=128, offset=8_192, n_bins=896)
#: Basenji2 as the authors' code assumed it (§13 B1): 1,024 uncropped bins from position 0
BASENJI2_AUTHORS_GEOMETRY = Geometry(sequence_length=131_072, bin_size=128, offset=0, n_bins=1_024)
#: Basenji1 (Kelley 2018, Kipoi ``Basenji``): 131,072 bp in, 960 bins of 128 bp, first bin at 4,096
BASENJI1_GEOMETRY = Geometry(sequence_length=131_072, bin_size=128, offset=4_096, n_bins=960)
#: Xpresso (Agarwal & Shendure 2020): 7,000 bp upstream + 3,500 bp downstream of the TSS, the TSS at
#: input position 7,000 on the gene's strand; one value (log10 expression) per input
XPRESSO_GEOMETRY = Geometry.scalar_of(10_500, anchor=7_000)


@dataclass(frozen=True)
class TrackRequest:
    """A request for output tracks: by explicit index, or by meaning (assay + cell type)."""

    index: int | None = None
    assay: str | None = None
    cell_type: str | None = None

    def describe(self) -> str:
        if self.index is not None:
            return f"track index {self.index}"
        return f"assay {self.assay!r} in cell type {self.cell_type!r}"


class TrackError(LookupError):
    """A track request matches no track, or several when one was expected."""


_ASSAY_RE = re.compile(r"^([A-Za-z0-9]+):")


def parse_assay(description: str) -> str:
    """Assay of an Enformer-style description (``'CAGE:K562 ...'`` -> ``'CAGE'``)."""
    m = _ASSAY_RE.match(description)
    return m.group(1).upper() if m else ""


class TrackTable:
    """Output tracks of a model: ``index, identifier, description, assay`` (+ ``preferred``).

    ``preferred`` marks, among several tracks answering the same (assay, cell type) request,
    the one to take (for Enformer's K562 CAGE the merged ENCODE track 5111 that the paper uses).
    """

    def __init__(self, frame: pd.DataFrame, preferred: dict[tuple[str, str], int] | None = None):
        need = {"index", "identifier", "description"}
        missing = need - set(frame.columns)
        if missing:
            raise ValueError(f"track table: missing column(s) {sorted(missing)}")
        frame = frame.copy()
        frame["index"] = frame["index"].astype(int)
        if "assay" not in frame.columns:
            frame["assay"] = frame["description"].map(parse_assay)
        self.frame = frame.set_index("index", drop=False).sort_index()
        self.preferred = {(a.upper(), c.upper()): i for (a, c), i in (preferred or {}).items()}

    def __len__(self) -> int:
        return len(self.frame)

    def name(self, index: int) -> str:
        return str(self.frame.loc[index, "description"])

    def match(self, assay: str, descriptor: str) -> list[int]:
        """Tracks of ``assay`` whose description contains ``descriptor``, else every track of ``assay``.

        The authors' per-locus matching (experiments-spec §4.3): the assay (``"CAGE"``, ``"DNASE"``)
        is matched case-sensitively as a substring of the description, the descriptor (a cell type
        such as ``"hepg2"``, or ``"mel"`` for melanocyte/melanoma) case-insensitively.  Returns
        indices in table order; ``[]`` only if the model has no track of ``assay`` at all.
        """
        f = self.frame
        of_assay = f[f["description"].str.contains(assay, regex=False)]
        hits = of_assay[of_assay["description"].str.lower().str.contains(descriptor.lower(), regex=False)]
        chosen = hits if len(hits) else of_assay
        return [int(i) for i in chosen.index]

    def resolve(self, request: TrackRequest) -> int:
        """Index of the one track answering ``request``; raises :class:`TrackError` otherwise."""
        if request.index is not None:
            if request.index not in self.frame.index:
                raise TrackError(
                    f"track index {request.index} is outside this model's {len(self)} tracks (0..{len(self) - 1})"
                )
            return int(request.index)
        if not request.assay or not request.cell_type:
            raise TrackError("a track request needs an index, or both an assay and a cell type")
        assay, cell = request.assay.upper(), request.cell_type.upper()
        f = self.frame
        hits = f[(f["assay"] == assay) & f["description"].str.upper().str.contains(cell, regex=False)]
        if len(hits) == 1:
            return int(hits.index[0])
        if len(hits) == 0:
            same = f[f["assay"] == assay]
            if len(same):
                shown = "; ".join(f"{i} ({d})" for i, d in zip(same.index[:3], same["description"][:3], strict=True))
                hint = (
                    f"expected a cell type named in one of its {len(same)} {assay} tracks"
                    f" [{shown}{'; ...' if len(same) > 3 else ''}], or an explicit index"
                )
            elif (f["assay"] != "").any():
                hint = f"expected one of its assays ({', '.join(sorted(set(f['assay']) - {''}))}), or an explicit index"
            else:
                hint = "its track table names no assays; expected an explicit index (or give model.targets)"
            raise TrackError(f"no track for {request.describe()} in this model's {len(self)} tracks; {hint}")
        if (assay, cell) in self.preferred:
            return self.preferred[(assay, cell)]
        shown = ", ".join(f"{i} ({d})" for i, d in zip(hits.index[:5], hits["description"][:5], strict=True))
        raise TrackError(
            f"{len(hits)} tracks answer {request.describe()}: {shown}{' ...' if len(hits) > 5 else ''};"
            " give an explicit index"
        )

    @classmethod
    def from_targets_file(cls, path: str, preferred: dict[tuple[str, str], int] | None = None) -> TrackTable:
        """Read an Enformer/Basenji ``targets_*.txt`` (tab-separated, first column unnamed or ``index``)."""
        frame = pd.read_csv(path, sep="\t")
        if "index" not in frame.columns:
            frame = frame.rename(columns={frame.columns[0]: "index"})
        return cls(frame[["index", "identifier", "description"]], preferred)


@runtime_checkable
class Model(Protocol):
    """A loaded sequence model, ready to predict (see the module docstring for shapes)."""

    name: str
    geometry: Geometry
    tracks: TrackTable
    #: value of each one-hot channel for ``N`` (Enformer's pipeline: 0.25)
    neutral_value: float

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray: ...


def predict_in_fixed_batches(
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
    codes: np.ndarray,
    bins: np.ndarray,
    n_tracks: int,
    batch_size: int,
) -> np.ndarray:
    """``run(codes [bs, L] uint8, bins [bs, K] int32) -> [bs, K, n_tracks]`` over every input, ``batch_size`` at
    a time; the last batch is padded with all-N inputs (bins 0) whose results are dropped, so that the device
    sees one shape (no retracing, no XLA recompiles; Basenji1's graph takes nothing else).  Returns float32
    ``[B, K, n_tracks]``."""
    n, bs = codes.shape[0], int(batch_size)
    out = np.empty((n, bins.shape[1], n_tracks), dtype=np.float32)
    for i in range(0, n, bs):
        c, b = codes[i : i + bs], bins[i : i + bs]
        k = c.shape[0]
        if k < bs:
            c = np.concatenate([c, np.full((bs - k, c.shape[1]), 4, np.uint8)])
            b = np.concatenate([b, np.zeros((bs - k, b.shape[1]), np.int32)])
        out[i : i + k] = np.asarray(run(c, b))[:k]
    return out


def one_hot_table(neutral_value: float) -> np.ndarray:
    """float32 ``[5, 4]``: row ``c`` is the one-hot of code ``c`` (A, C, G, T), row 4 (N) ``neutral_value``
    on all four channels (Enformer's and Basenji's pipelines: 0.25; Xpresso's: 0)."""
    nv = float(neutral_value)
    return np.vstack([np.eye(4, dtype=np.float32), np.full((1, 4), nv, dtype=np.float32)])
