"""In silico multiplicativity (paper: "Enformer's promoter-enhancer logic is (mostly) multiplicative";
experiments-spec §9, the authors' ``fulco_in_fulco``).

Every candidate promoter (1 kb around the TSS bin centre) and every candidate enhancer (the 2-kb
``fix_enhancer_wide`` window) is swapped into each test location ("background"): the
location's own promoter window and enhancer window are replaced, lengths unchanged, both
inserted in genomic + orientation whatever the gene strands (as the authors do, §13 B18).
The landmark is the location's TSS bin centre ``main_tss_start + 64``; the readout is the
K562 CAGE 3-bin landmark sum averaged over the strand x shift ensemble in natural scale,
then ``y = log2(mean + 1)``.

Windows: by default (``inputs.window = "table"``) the model input is the location's own
Avsec window ``[sequence_start, sequence_end)`` moved by the shift, exactly as the authors
(their TSS bin ``main_tss_bin`` is then checked against the coordinates).  With
``"centred"`` the window is centred on the TSS instead (for models of another input length).

Ids: ``promoter_id = chrom:main_tss_start-main_tss_end``, ``enhancer_id = chrom:start-end`` of
the 2-kb window, ``location_key`` = the location row's ``ziga_key``.  Construct ids enumerate
(location, promoter, enhancer) in that mixed radix, in table order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs.crispri import CANDIDATE_INT_COLUMNS, CANDIDATE_REQUIRED
from seqbench.inputs.tables import InputError, read_table, require_int_column
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import Construct, FromGenome, replace

NAME = "multiplicativity"
TITLE = "In silico multiplicativity of promoter, enhancer and background"
CANDIDATES_DEFAULT = "Data/Fulco_CRISPRi/in_silico_candidate_locs.tsv"

INPUTS: dict[str, Key] = {
    "candidates": Key(str, CANDIDATES_DEFAULT, "candidate table (in_silico_candidate_locs.tsv), relative to data_root"),
    "window": Key(
        str, "table", "model window: the table's sequence_start ('table') or TSS-centred", ("table", "centred")
    ),
    "promoter_width": Key(int, 1000, "bp of promoter swapped, centred on main_tss_start + 64", min=2),
    "max_promoters": Key(int, 0, "use only the first N promoters (0: all)", min=0),
    "max_enhancers": Key(int, 0, "use only the first N enhancers (0: all)", min=0),
    "max_backgrounds": Key(int, 0, "use only the first N test locations (0: all)", min=0),
}
PATH_INPUTS = {"candidates"}
#: ``seqbench-ray submit multiplicativity --from KNOCKDOWN_JOB``: the knock-down job's candidate selection (§6.3)
FROM_JOB = {"enhancer-knockdown": {"candidates": "tables/in_silico_candidate_locs.tsv"}}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"


@dataclass(frozen=True)
class _Element:
    chrom: str
    start: int
    end: int


@dataclass(frozen=True)
class _Background:
    key: str
    chrom: str
    sequence_start: int
    tss: int  # TSS bin centre, 0-based
    promoter: _Element
    enhancer: _Element


@dataclass(frozen=True)
class MultiplicativityBuilder:
    """Builds construct ``i`` (picklable: the runtime ships it to materialization tasks)."""

    backgrounds: tuple[_Background, ...]
    promoters: tuple[_Element, ...]
    enhancers: tuple[_Element, ...]
    centred: bool

    def __call__(self, construct_id: int) -> Construct:
        n_p, n_e = len(self.promoters), len(self.enhancers)
        b, rest = divmod(construct_id, n_p * n_e)
        p, e = divmod(rest, n_e)
        bg, prom, enh = self.backgrounds[b], self.promoters[p], self.enhancers[e]
        edits = sorted(
            [
                replace(bg.promoter.start, bg.promoter.end, FromGenome(prom.chrom, prom.start, prom.end)),
                replace(bg.enhancer.start, bg.enhancer.end, FromGenome(enh.chrom, enh.start, enh.end)),
            ],
            key=lambda ed: ed.start,
        )
        return Construct(
            key=f"{bg.key}|{_eid(prom)}|{_eid(enh)}",
            chrom=bg.chrom,
            landmark=bg.tss,
            edits=tuple(edits),
            window_start=None if self.centred else bg.sequence_start,
        )


def _eid(e: _Element) -> str:
    return f"{e.chrom}:{e.start}-{e.end}"


def load_candidates(path: Path) -> pd.DataFrame:
    """The candidate table (layout: :data:`seqbench.inputs.crispri.CANDIDATE_COLUMNS`), checked: the
    required columns, integer coordinates, widths, one boolean flag."""
    frame = read_table(path, CANDIDATE_REQUIRED, what="multiplicativity candidate table")
    for col in CANDIDATE_INT_COLUMNS:
        require_int_column(frame, col, path)
        frame[col] = frame[col].astype(np.int64)
    flags = frame["test_location"].astype(str).str.strip().str.lower()
    ok = flags.isin(["true", "false", "1", "0"])
    if not ok.all():
        i = int((~ok).to_numpy().nonzero()[0][0])
        value = frame["test_location"].iloc[i]
        found = "the cell is empty (or NA)" if pd.isna(value) else repr(str(value))
        raise InputError(
            f"{path}: row {i + 1}, column 'test_location': {found}; expected a boolean (True, False, 1 or 0)"
        )
    frame["test_location"] = flags.isin(["true", "1"])
    for i, r in enumerate(frame.itertuples(index=False)):
        if r.main_tss_end - r.main_tss_start != 128:
            raise InputError(
                f"{path}: row {i + 1}, column 'main_tss_end': {r.main_tss_end} - main_tss_start {r.main_tss_start}"
                f" = {r.main_tss_end - r.main_tss_start}; expected the 128-bp TSS bin"
            )
        for lo, hi in (("fix_enhancer_wide_start", "fix_enhancer_wide_end"), ("sequence_start", "sequence_end")):
            if getattr(r, hi) <= getattr(r, lo):
                raise InputError(
                    f"{path}: row {i + 1}, column {hi!r}: {getattr(r, hi)} is not after {lo} = {getattr(r, lo)};"
                    f" expected {lo} < {hi}"
                )
    if not frame["test_location"].any():
        raise InputError(f"{path}: no row has test_location = True; the design needs at least one background")
    dup = frame["ziga_key"].duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        key = frame["ziga_key"].iloc[i]
        first = int((frame["ziga_key"] == key).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'ziga_key': {str(key)!r} is already the key of row {first + 1};"
            " expected unique keys"
        )
    return frame


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design of the multiplicativity job: backgrounds x promoters x enhancers."""
    path = Path(spec.inputs["candidates"])
    frame = load_candidates(path)
    half = spec.inputs["promoter_width"] // 2
    geometry_len = geometry.sequence_length
    centred = spec.inputs["window"] == "centred"

    for i, chrom in enumerate(frame["chromosome"]):
        if chrom not in genome:
            genome.check_chrom(chrom, where=f"{path}: row {i + 1}, column 'chromosome'")
    # the swapped elements must lie on their chromosome (read as N they would be silent garbage);
    # the model window may run past a chromosome end and is N-padded there
    for i, r in enumerate(frame.itertuples(index=False)):
        length = genome.lengths[r.chromosome]
        for lo, hi in (("main_tss_start", "main_tss_end"), ("fix_enhancer_wide_start", "fix_enhancer_wide_end")):
            col = lo if getattr(r, lo) < 0 else hi if getattr(r, hi) > length else None
            if col:
                raise InputError(
                    f"{path}: row {i + 1}, column {col!r}: {getattr(r, col)} is off {r.chromosome}"
                    f" (length {length} in {genome.path.name}); expected 0 <= {lo} < {hi} <= {length}"
                )

    prom_rows = frame.drop_duplicates(["chromosome", "main_tss_start", "main_tss_end"])
    promoters = [
        _Element(r.chromosome, r.main_tss_start + 64 - half, r.main_tss_start + 64 + half)
        for r in prom_rows.itertuples(index=False)
    ]
    promoter_ids = [f"{r.chromosome}:{r.main_tss_start}-{r.main_tss_end}" for r in prom_rows.itertuples(index=False)]
    enh_rows = frame.drop_duplicates(["chromosome", "fix_enhancer_wide_start", "fix_enhancer_wide_end"])
    enhancers = [
        _Element(r.chromosome, r.fix_enhancer_wide_start, r.fix_enhancer_wide_end)
        for r in enh_rows.itertuples(index=False)
    ]
    bg_rows = frame[frame["test_location"]]
    backgrounds = []
    for r in bg_rows.itertuples(index=True):
        row = int(r.Index) + 1
        tss = r.main_tss_start + 64
        prom = _Element(r.chromosome, tss - half, tss + half)
        enh = _Element(r.chromosome, r.fix_enhancer_wide_start, r.fix_enhancer_wide_end)
        if prom.start < enh.end and enh.start < prom.end:
            raise InputError(
                f"{path}: row {row} ({r.ziga_key}): the promoter window [{prom.start}, {prom.end}) "
                f"overlaps the enhancer window [{enh.start}, {enh.end})"
            )
        if not centred:
            if r.sequence_end - r.sequence_start != geometry_len:
                raise InputError(
                    f"{path}: row {row}: sequence_end - sequence_start = "
                    f"{r.sequence_end - r.sequence_start}; the model's input is {geometry_len} bp "
                    "(set inputs.window = 'centred' for another model)"
                )
            offset = geometry.offset
            bin_ = (tss - r.sequence_start - offset) // geometry.bin_size
            if bin_ != r.main_tss_bin:
                raise InputError(
                    f"{path}: row {row}: main_tss_bin = {r.main_tss_bin} but main_tss_start and "
                    f"sequence_start put the TSS in bin {bin_} (model offset {offset}); "
                    "set inputs.window = 'centred' for another model"
                )
        backgrounds.append(_Background(r.ziga_key, r.chromosome, r.sequence_start, tss, prom, enh))

    lim = spec.inputs
    if lim["max_promoters"]:
        promoters, promoter_ids = promoters[: lim["max_promoters"]], promoter_ids[: lim["max_promoters"]]
    if lim["max_enhancers"]:
        enhancers = enhancers[: lim["max_enhancers"]]
    if lim["max_backgrounds"]:
        backgrounds = backgrounds[: lim["max_backgrounds"]]

    n_b, n_p, n_e = len(backgrounds), len(promoters), len(enhancers)
    ids = np.arange(n_b * n_p * n_e, dtype=np.int64)
    b_idx, rest = np.divmod(ids, n_p * n_e)
    p_idx, e_idx = np.divmod(rest, n_e)
    enhancer_ids = [_eid(e) for e in enhancers]
    table = pd.DataFrame(
        {
            "construct_id": ids,
            "location_key": pd.Categorical.from_codes(b_idx, [b.key for b in backgrounds]),
            "promoter_id": pd.Categorical.from_codes(p_idx, promoter_ids),
            "enhancer_id": pd.Categorical.from_codes(e_idx, enhancer_ids),
        }
    )
    builder = MultiplicativityBuilder(tuple(backgrounds), tuple(promoters), tuple(enhancers), centred)
    return Design(table=table, build=builder)


def knockdown_effects(spec) -> pd.Series | None:
    """enhancer_id -> the candidate's own knock-down log2_fc_pred (mean over its rows), if the table has it."""
    frame = load_candidates(Path(spec.inputs["candidates"]))
    if "log2_fc_pred" not in frame.columns:
        return None
    ids = (
        frame["chromosome"]
        + ":"
        + frame["fix_enhancer_wide_start"].astype(str)
        + "-"
        + frame["fix_enhancer_wide_end"].astype(str)
    )
    return pd.to_numeric(frame["log2_fc_pred"], errors="coerce").groupby(ids).mean()


def combinations(predictions: pd.DataFrame, design: pd.DataFrame, readout: str = READOUT) -> pd.DataFrame:
    """``y = log2(mean over members of the readout + 1)`` per (location, promoter, enhancer)."""
    labels = ["location_key", "promoter_id", "enhancer_id"]
    means = construct_means(predictions, design, [readout], labels=labels)
    combos = means[["construct_id", *labels]].astype(dict.fromkeys(labels, str))
    combos["y"] = np.log2(means[readout].to_numpy(dtype=np.float64) + 1.0)
    return combos


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Fit the multiplicativity models (see :mod:`seqbench.experiments.multiplicativity.stats`)."""
    from seqbench.experiments.multiplicativity.stats import reduce_multiplicativity

    combos = combinations(predictions, design)
    return reduce_multiplicativity(combos, knockdown_effects(spec), map_fn=map_fn)


