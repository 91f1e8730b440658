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
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Geometry:
    """Input/output geometry of a binned sequence model.

    ``sequence_length`` bp in; ``n_bins`` output bins of ``bin_size`` bp; the first output bin
    starts ``offset`` bp into the input.  Position ``p`` of the input (0-based) falls in output
    bin ``(p - offset) // bin_size`` when ``0 <= p - offset < n_bins * bin_size``.
    """

    sequence_length: int
    bin_size: int
    offset: int
    n_bins: int

    def bin_of(self, position: int | np.ndarray) -> int | np.ndarray:
        """Output bin of an input position (0-based); may fall outside ``0..n_bins-1``."""
        return (
            (np.asarray(position) - self.offset) // self.bin_size
            if isinstance(position, np.ndarray)
            else (position - self.offset) // self.bin_size
        )

    def mirror_bin(self, b: int | np.ndarray) -> int | np.ndarray:
        """The bin that output bin ``b`` becomes when the input is reverse-complemented.

        Exact when the predicted span is centred in the input (Enformer: ``895 - b``).
        """
        return self.n_bins - 1 - b

    def validate(self) -> None:
        if self.offset * 2 + self.n_bins * self.bin_size != self.sequence_length:
            raise ValueError(
                f"geometry: offset {self.offset} + {self.n_bins} bins x {self.bin_size} bp + offset "
                f"must equal the input length {self.sequence_length}"
            )


#: Enformer (Avsec et al. 2021): 393,216 bp in, 896 bins of 128 bp, first bin at 139,264.
ENFORMER_GEOMETRY = Geometry(sequence_length=393_216, bin_size=128, offset=139_264, n_bins=896)


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
