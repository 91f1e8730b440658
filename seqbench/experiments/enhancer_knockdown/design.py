"""In silico CRISPRi enhancer knock-down (paper: "Enformer attributes considerably less importance to
enhancers than experiments suggest", Fig. 5, S8-S11; experiments-spec §6, the authors'
``prepare_avsec_fulltable.py`` with ``--enh-wide-type fixed --shuffles 25``).

For every enhancer-gene pair of the CRISPRi table (:func:`seqbench.inputs.crispri.load_pairs`)
the knocked-down window ``[ko_start, ko_end)`` (0-based half-open) of the gene's Avsec window
``[sequence_start, sequence_end)`` is

* ``replace_with_n``: replaced by N;
* ``shuffle``: shuffled in place, ``inputs.shuffles`` times (the paper: 25), mononucleotide as the
  paper (``inputs.shuffle_kind = "mono"``) or dinucleotide (``"di"``); replicate ``r`` is seeded
  from ``derive_seed(job seed, "<ziga_key>|shuffle", r)``;

where the knocked-down window is, by ``inputs.enhancer_window``, the 2-kb ``fix_enhancer_wide_*``
window (element midpoint +- 1,000 bp; ``"fixed"``, the default, the authors' ``avsec_fulltable_fixed``
that the paper's Fig. 5 uses) or Avsec et al.'s widened element ``enhancer_wide_*`` (``"avsec"``,
the authors' ``avsec_fulltable``, ``--enh-wide-type avsec``);
and the reference window (``none``) is predicted **once per distinct window** ``(chrom,
sequence_start, tss)`` rather than once per pair as the authors do: the reference of a gene is the
same input for all its pairs, so deduplicating changes no number.  The landmark is the TSS-bin
centre ``tss = main_tss_start + 64``; the readout is the K562 CAGE 3-bin landmark sum averaged over
the strand x shift ensemble in natural scale (§6.3).  ``main_tss_bin`` is checked against the
coordinates (``(tss - sequence_start - offset) // bin_size`` of the model geometry).

Construct ids are gene-major: per window, its reference, then per pair ``replace_with_n`` and the
shuffles ``0..S-1``; so a shard holds the constructs of one or a few windows and the reference
block is fetched once per shard (:func:`seqbench.predict.materialize_shard`).

Reduce (:mod:`seqbench.experiments.enhancer_knockdown.stats`): per pair ``log2_fc_pred = log2(shuffle + 1) -
log2(none + 1)`` (mean over members and shuffles in linear scale first), the same for N, observed
effects, all statistics of §6.3, and the candidate table for ``multiplicativity``
(``tables/in_silico_candidate_locs.tsv``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs import crispri
from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import Construct, mask, shuffle_region
from seqbench.sequence.shuffles import derive_seed

NAME = "enhancer-knockdown"
TITLE = "In silico CRISPRi enhancer knock-down (shuffle and N-mask of the 2-kb element window)"
CANDIDATES_RELPATH = Path("tables/in_silico_candidate_locs.tsv")

INPUTS: dict[str, Key] = {
    **crispri.INPUT_KEYS,
    "shuffles": Key(int, 25, "shuffles of the knocked-down window per pair (paper: 25)", min=1),
    "enhancer_window": Key(
        str, "fixed", "knocked-down window: the 2-kb fix_enhancer_wide_* ('fixed', paper Fig. 5) or Avsec's"
        " widened element enhancer_wide_* ('avsec')", tuple(crispri.ENHANCER_WINDOWS),
    ),
    "shuffle_kind": Key(str, "mono", "shuffle: mononucleotide (paper) or dinucleotide", ("mono", "di")),
    "window": Key(
        str, "table", "model window: the table's sequence_start ('table') or TSS-centred", ("table", "centred")
    ),
    "datasets": Key(
        list, ["fulco2019", "gasperini2019"], "datasets of the CRISPRi table to use", crispri.DATASETS, item=str
    ),
    "max_genes": Key(int, 0, "use only the first N gene windows (0: all)", min=0),
    "max_pairs": Key(int, 0, "use only the first N pairs, after max_genes (0: all)", min=0),
    "effect_threshold_percent": Key(
        (int, float), 10.0, "a gene 'has an effect' if a candidate's Predicted_Percent exceeds this (paper: 10)",
        min=0,
    ),
    # candidate selection for multiplicativity (§6.3, last bullet); paper values
    "strong_percent": Key((int, float), 30.0, "candidate 'strong': Predicted_Percent above this", min=0),
    "strong_min_distance": Key(int, 3000, "candidate 'strong': distance above this (bp)", min=0),
    "strong_max_distance": Key(int, 90000, "candidate 'strong': distance below this (bp)", min=0),
    "weak_percent": Key((int, float), 0.1, "candidate 'weak': Predicted_Percent below this", min=0),
    "weak_min_distance": Key(int, 3000, "candidate 'weak': distance above this (bp)", min=0),
    "weak_max_distance": Key(int, 8000, "candidate 'weak': distance below this (bp)", min=0),
    "weak_for_gene_percent": Key(
        (int, float), 1.0, "candidate 'weak_for_gene' (strong genes): below this %", min=0
    ),
    "intermediate_min_percent": Key(
        (int, float), 4.0, "candidate 'intermediate' (strong genes): from this %", min=0
    ),
    "intermediate_max_percent": Key(
        (int, float), 8.0, "candidate 'intermediate' (strong genes): up to this %", min=0
    ),
    "near_max_distance": Key(
        int, 20000, "weak_for_gene / intermediate: distance below this (bp; from 3 kb)", min=0
    ),
    "n_total": Key(
        int, 2_000_000, "multiplicativity budget: test locations = n_total // (promoters*enhancers*6)", min=1
    ),
    "top_strongest": Key(int, 20, "test locations: the first ones by |log2_fc_pred| (paper: 20)", min=0),
    "weak_locations": Key(
        int, 6, "test locations: then the first weak ones, ascending log2_fc_pred (paper: 6)", min=0
    ),
}
PATH_INPUTS = set(crispri.PATH_INPUT_KEYS)
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"

MODIFICATIONS = ("none", "replace_with_n", "shuffle")


@dataclass(frozen=True)
class _Window:
    chrom: str
    sequence_start: int | None  # None: TSS-centred
    tss: int
    key: str


@dataclass(frozen=True)
class _Pair:
    ziga_key: str
    window: int
    ko_start: int
    ko_end: int


@dataclass(frozen=True)
class KnockdownBuilder:
    """Builds construct ``i`` (picklable).  Layout: per window ``[none, (N, shuffle 0..S-1) per pair]``."""

    windows: tuple[_Window, ...]
    pairs: tuple[_Pair, ...]
    window_first: tuple[int, ...]  # construct id of each window's reference
    pair_first: tuple[int, ...]  # construct id of each pair's replace_with_n
    shuffles: int
    kind: str
    seed: int

    def __call__(self, construct_id: int) -> Construct:
        w = bisect.bisect_right(self.window_first, construct_id) - 1
        win = self.windows[w]
        base = dict(chrom=win.chrom, landmark=win.tss, window_start=win.sequence_start)
        if construct_id == self.window_first[w]:
            return Construct(key=f"{win.key}|none", **base)
        p = bisect.bisect_right(self.pair_first, construct_id) - 1
        pair = self.pairs[p]
        off = construct_id - self.pair_first[p]
        if off == 0:
            return Construct(key=f"{pair.ziga_key}|replace_with_n", edits=(mask(pair.ko_start, pair.ko_end),), **base)
        r = off - 1
        seed = derive_seed(self.seed, f"{pair.ziga_key}|shuffle", r)
        edit = shuffle_region(pair.ko_start, pair.ko_end, seed, self.kind)
        return Construct(key=f"{pair.ziga_key}|shuffle|{r}", edits=(edit,), **base)


def window_key(chrom: str, sequence_start: int, tss: int) -> str:
    return f"{chrom}:{sequence_start}|tss={tss}"


def select_pairs(spec, genome=None) -> pd.DataFrame:
    """The pairs of the job, gene-major (windows in order of first appearance), with ``window`` index."""
    pairs = crispri.load_pairs(spec.inputs, genome, enhancer_window=spec.inputs["enhancer_window"])
    path = Path(spec.inputs["crispri_table"])
    wanted = list(spec.inputs["datasets"])
    bad = [d for d in wanted if d not in crispri.DATASETS]
    if bad:
        raise InputError(f"inputs.datasets: {bad[0]!r}; expected some of {', '.join(crispri.DATASETS)}")
    pairs = pairs[pairs["dataset"].isin(wanted)]
    if pairs.empty:
        raise InputError(f"{path}: no pair of datasets {', '.join(wanted)}")
    keys = [window_key(c, s, t) for c, s, t in zip(pairs.chrom, pairs.sequence_start, pairs.tss, strict=True)]
    pairs = pairs.assign(window_key=keys)
    order = {k: i for i, k in enumerate(dict.fromkeys(pairs["window_key"]))}
    pairs = pairs.assign(window=pairs["window_key"].map(order).astype(np.int64))
    pairs = pairs.sort_values(["window"], kind="stable").reset_index(drop=True)
    if spec.inputs["max_genes"]:
        pairs = pairs[pairs["window"] < spec.inputs["max_genes"]]
    if spec.inputs["max_pairs"]:
        pairs = pairs.iloc[: spec.inputs["max_pairs"]]
    return pairs.reset_index(drop=True)


def _check_windows(pairs: pd.DataFrame, geometry: Geometry, path: Path) -> None:
    geometry_len, offset = geometry.sequence_length, geometry.offset
    for r in pairs.itertuples(index=False):
        if r.sequence_end - r.sequence_start != geometry_len:
            raise InputError(
                f"{path}: pair {r.ziga_key}: sequence_end - sequence_start = {r.sequence_end - r.sequence_start};"
                f" the model's input is {geometry_len} bp (set inputs.window = 'centred' for another model)"
            )
        bin_ = (r.tss - r.sequence_start - offset) // geometry.bin_size
        if bin_ != r.main_tss_bin:
            raise InputError(
                f"{path}: pair {r.ziga_key}: main_tss_bin = {r.main_tss_bin} but main_tss_start and sequence_start"
                f" put the TSS in bin {bin_} (model offset {offset}); set inputs.window = 'centred' for another model"
            )


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design: per window its reference, then per pair N-replacement and the shuffles (gene-major)."""
    if spec.inputs["shuffles"] < 1:
        raise InputError(f"{spec.source}: inputs.shuffles = {spec.inputs['shuffles']}; expected >= 1")
    pairs = select_pairs(spec, genome)
    path = Path(spec.inputs["crispri_table"])
    centred = spec.inputs["window"] == "centred"
    if not centred:
        _check_windows(pairs, geometry, path)
    first = pairs.drop_duplicates("window")
    windows = tuple(
        _Window(r.chrom, None if centred else int(r.sequence_start), int(r.tss), r.window_key)
        for r in first.itertuples(index=False)
    )
    S = int(spec.inputs["shuffles"])
    per_pair = 1 + S
    window_first, pair_first = [], []
    cid = 0
    counts = pairs.groupby("window", sort=True).size()
    for w in range(len(windows)):
        window_first.append(cid)
        cid += 1
        for _ in range(int(counts.loc[w])):
            pair_first.append(cid)
            cid += per_pair
    n = cid
    pair_objs = tuple(
        _Pair(r.ziga_key, int(r.window), int(r.ko_start), int(r.ko_end)) for r in pairs.itertuples(index=False)
    )
    # labels, vectorised: construct -> window, pair (-1 for the reference), modification, replicate
    ids = np.arange(n, dtype=np.int64)
    w_of = np.searchsorted(np.asarray(window_first), ids, side="right") - 1
    is_ref = np.isin(ids, np.asarray(window_first))
    p_of = np.searchsorted(np.asarray(pair_first), ids, side="right") - 1
    p_of = np.where(is_ref, -1, p_of)
    off = np.where(is_ref, -1, ids - np.asarray(pair_first)[np.maximum(p_of, 0)])
    modification = np.where(is_ref, 0, np.where(off == 0, 1, 2))
    keys = [k for k in pairs["ziga_key"]]
    table = pd.DataFrame(
        {
            "construct_id": ids,
            "window": w_of.astype(np.int64),
            "pair": p_of.astype(np.int64),
            "ziga_key": pd.Categorical.from_codes(p_of, keys) if keys else pd.Categorical([None] * n),
            "modification": pd.Categorical.from_codes(modification, list(MODIFICATIONS)),
            "replicate": np.where(modification == 2, off - 1, -1).astype(np.int64),
        }
    )
    builder = KnockdownBuilder(
        windows, pair_objs, tuple(window_first), tuple(pair_first), S, spec.inputs["shuffle_kind"], int(spec.seed)
    )
    return Design(table=table, build=builder)


def readout_means(predictions: pd.DataFrame, design: pd.DataFrame, readout: str = READOUT) -> pd.DataFrame:
    """``construct_id, window, pair, modification, replicate, value``: the readout's mean over members
    (natural scale) per construct (:func:`seqbench.experiment.construct_means`)."""
    labels = ["window", "pair", "modification", "replicate"]
    out = construct_means(predictions, design, [readout], labels=labels).rename(columns={readout: "value"})
    out["modification"] = out["modification"].astype(str)
    return out


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Per-pair effects and every statistic (see :mod:`seqbench.experiments.enhancer_knockdown.stats`)."""
    from seqbench.experiments.enhancer_knockdown.stats import CandidateRules, reduce_knockdown

    pairs = select_pairs(spec)
    means = readout_means(predictions, design)
    rules = CandidateRules.from_inputs(spec.inputs, n_members=spec.ensemble.n_members)
    return reduce_knockdown(pairs, means, rules, effect_threshold=float(spec.inputs["effect_threshold_percent"]))




def summary_extra(spec) -> dict[str, Any]:
    """Where the job writes the candidate table that ``multiplicativity --from`` reads, and the
    knocked-down window (``inputs.enhancer_window``) the numbers are for."""
    return {"candidate_table": CANDIDATES_RELPATH.as_posix(), "enhancer_window": spec.inputs["enhancer_window"]}
