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

Two more analyses, each on unless dropped from ``inputs.analyses`` (constructs after the
knock-down block, design column ``element``):

* ``enformer_abc`` (§6.3, the authors' ``avsec_enhancercentered``, §12.4): every unique assayed
  element ``(chrom, enhancer_start, enhancer_end)`` in its reference window centred on its midpoint
  ``enhancer_start + (enhancer_end - enhancer_start) // 2`` (the landmark; modification
  ``enhancer_centred``), read on the tracks :func:`extra_tracks` picks: every DNase track of K562
  and, with ``inputs.enformer_abc_marks = "h3k27ac_dnase"`` (the paper), every H3K27ac track;
* ``basal_expression`` (§12.3, ``ful_gas_localeffects``): every unique promoter (``tss +- 1,000``)
  and 2-kb enhancer (``fix_enhancer_wide_*``) inserted alone, N-padded (``npad``: the element in a
  sequence of N) and at the landing pad (``aavs1``: the element replaces the 30-bp pad
  ``inputs.landing_pad``), landmark the element's position 1,000 (its midpoint).

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
from seqbench.inputs.plasmids import AAVS1, parse_landing_pad
from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.models.base import Geometry, TrackError
from seqbench.sequence.constructs import Construct, FromGenome, InEdit, insert, mask, replace, shuffle_region
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
    "analyses": Key(
        list, ["enformer_abc", "basal_expression"],
        "analyses beside the knock-down: Enformer-ABC (avsec_enhancercentered) and basal expression"
        " (ful_gas_localeffects)", ("enformer_abc", "basal_expression"), item=str,
    ),
    "enformer_abc_marks": Key(
        str, "h3k27ac_dnase", "Enformer-ABC activity: geometric mean of the H3K27ac and K562 DNase tracks' means"
        " ('h3k27ac_dnase', paper) or K562 DNase alone ('dnase', for a model without H3K27ac tracks)",
        ("h3k27ac_dnase", "dnase"),
    ),
    "bootstrap": Key(int, 99, "resamples of the Enformer-ABC AUPRC confidence interval (paper: 99)", min=1),
    "landing_pad": Key(
        str, AAVS1, "basal expression: the landing pad chrom:start-end (0-based) an element replaces (AAVS1)"
    ),
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

MODIFICATIONS = ("none", "replace_with_n", "shuffle", "enhancer_centred", "npad", "aavs1")
#: basal expression: an inserted element is its position +- this (bp); the landmark is its midpoint
ELEMENT_HALF_WIDTH = 1_000
#: prediction-column prefixes of the Enformer-ABC tracks (label = prefix + track index)
ABC_DNASE, ABC_H3K27AC = "abc_dnase|", "abc_h3k27ac|"


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
    #: constructs after the knock-down block (Enformer-ABC and basal expression), in id order
    extra: tuple[Construct, ...] = ()
    n_knockdown: int = 0

    def __call__(self, construct_id: int) -> Construct:
        if construct_id >= self.n_knockdown:
            return self.extra[construct_id - self.n_knockdown]
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
    extra, extra_rows = _extra_constructs(spec, pairs, genome, n)
    if extra_rows:
        more = pd.DataFrame(extra_rows)
        more.insert(0, "construct_id", np.arange(n, n + len(more), dtype=np.int64))
        more["ziga_key"] = pd.Categorical([None] * len(more), categories=table["ziga_key"].cat.categories)
        more["modification"] = pd.Categorical(more["modification"], categories=list(MODIFICATIONS))
        table = pd.concat([table.assign(element=np.int64(-1)), more[[*table.columns, "element"]]], ignore_index=True)
    else:
        table["element"] = np.int64(-1)
    builder = KnockdownBuilder(
        windows, pair_objs, tuple(window_first), tuple(pair_first), S, spec.inputs["shuffle_kind"], int(spec.seed),
        extra=tuple(extra), n_knockdown=n,
    )
    return Design(table=table, build=builder)


def unique_enhancers(pairs: pd.DataFrame) -> pd.DataFrame:
    """Enformer-ABC elements: unique assayed elements ``chrom, enhancer_start, enhancer_end`` in order of
    first appearance, with ``mid = enhancer_start + (enhancer_end - enhancer_start) // 2`` (the authors')."""
    u = pairs.drop_duplicates(["chrom", "enhancer_start", "enhancer_end"])[["chrom", "enhancer_start", "enhancer_end"]]
    u = u.reset_index(drop=True)
    return u.assign(mid=u["enhancer_start"] + (u["enhancer_end"] - u["enhancer_start"]) // 2)


def basal_elements(pairs: pd.DataFrame) -> pd.DataFrame:
    """Basal-expression elements: unique promoters ``[tss - 1000, tss + 1000)`` then unique 2-kb enhancers
    ``[fix_start, fix_end)``; columns ``kind`` (promoter | enhancer), ``chrom, start, end``."""
    prom = pairs.drop_duplicates(["chrom", "tss"])
    enh = pairs.drop_duplicates(["chrom", "fix_start", "fix_end"])
    out = pd.concat(
        [
            pd.DataFrame({"kind": "promoter", "chrom": prom["chrom"], "start": prom["tss"] - ELEMENT_HALF_WIDTH,
                          "end": prom["tss"] + ELEMENT_HALF_WIDTH}),
            pd.DataFrame({"kind": "enhancer", "chrom": enh["chrom"], "start": enh["fix_start"], "end": enh["fix_end"]}),
        ],
        ignore_index=True,
    )
    return out.astype({"start": np.int64, "end": np.int64})


def _extra_constructs(spec, pairs: pd.DataFrame, genome, first_id: int) -> tuple[list[Construct], list[dict]]:
    """The Enformer-ABC and basal-expression constructs (see the module docstring) and their design rows."""
    analyses = set(spec.inputs["analyses"])
    constructs: list[Construct] = []
    rows: list[dict[str, Any]] = []
    base = {"window": -1, "pair": -1, "replicate": -1}
    if "enformer_abc" in analyses:
        for i, r in enumerate(unique_enhancers(pairs).itertuples(index=False)):
            key = f"{r.chrom}:{r.enhancer_start}-{r.enhancer_end}|enhancer_centred"
            constructs.append(Construct(key=key, chrom=r.chrom, landmark=int(r.mid)))
            rows.append({**base, "modification": "enhancer_centred", "element": i})
    if "basal_expression" in analyses:
        pad_chrom, pad_start, pad_end = parse_landing_pad(spec.inputs["landing_pad"])
        if genome is not None:
            genome.check_chrom(pad_chrom, where="inputs.landing_pad")
            if pad_end > genome.lengths[pad_chrom]:
                raise InputError(
                    f"inputs.landing_pad = {spec.inputs['landing_pad']!r} is off {pad_chrom}"
                    f" (length {genome.lengths[pad_chrom]})"
                )
        for i, r in enumerate(basal_elements(pairs).itertuples(index=False)):
            payload = FromGenome(r.chrom, int(r.start), int(r.end))
            lm = InEdit(0, ELEMENT_HALF_WIDTH)
            key = f"{r.kind}|{r.chrom}:{r.start}-{r.end}"
            constructs.append(Construct(key=f"{key}|npad", literal="", edits=(insert(0, payload),), landmark=lm))
            rows.append({**base, "modification": "npad", "element": i})
            constructs.append(
                Construct(key=f"{key}|aavs1", chrom=pad_chrom, edits=(replace(pad_start, pad_end, payload),),
                          landmark=lm)
            )
            rows.append({**base, "modification": "aavs1", "element": i})
    return constructs, rows


def extra_tracks(spec, track_table) -> dict[str, int]:
    """The Enformer-ABC tracks (with ``enformer_abc`` in ``inputs.analyses``), labelled
    :data:`ABC_DNASE` / :data:`ABC_H3K27AC` + index: every DNase track whose description mentions K562
    (case-insensitive, as the authors' ``"k562"`` column filter) and, for ``enformer_abc_marks =
    "h3k27ac_dnase"``, every track whose description contains ``H3K27ac`` (any cell type, as the authors).
    A model without them is refused (:class:`~seqbench.models.base.TrackError`, one line)."""
    if "enformer_abc" not in spec.inputs["analyses"]:
        return {}
    f = track_table.frame
    desc = f["description"].astype(str)
    dnase = f[desc.str.upper().str.contains("DNASE") & desc.str.upper().str.contains("K562")].index
    if not len(dnase):
        raise TrackError(
            f"{spec.source}: inputs.analyses has 'enformer_abc' but no track description of this model names DNASE"
            " and K562; expected K562 DNase tracks (drop 'enformer_abc' from inputs.analyses otherwise)"
        )
    out = {f"{ABC_DNASE}{int(i)}": int(i) for i in dnase}
    if spec.inputs["enformer_abc_marks"] == "h3k27ac_dnase":
        h3 = f[desc.str.contains("H3K27ac", regex=False)].index
        if not len(h3):
            raise TrackError(
                f"{spec.source}: inputs.enformer_abc_marks = 'h3k27ac_dnase' but no track description of this model"
                " contains 'H3K27ac'; expected H3K27ac tracks (set enformer_abc_marks = 'dnase' for the DNase-only"
                " variant)"
            )
        out.update({f"{ABC_H3K27AC}{int(i)}": int(i) for i in h3})
    return out


def readout_means(predictions: pd.DataFrame, design: pd.DataFrame, readout: str = READOUT) -> pd.DataFrame:
    """``construct_id, window, pair, modification, replicate, element, value``: the readout's mean over
    members (natural scale) per construct (:func:`seqbench.experiment.construct_means`)."""
    labels = ["window", "pair", "modification", "replicate", "element"]
    out = construct_means(predictions, design, [readout], labels=labels).rename(columns={readout: "value"})
    out["modification"] = out["modification"].astype(str)
    return out


def abc_element_means(predictions: pd.DataFrame, design: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`unique_enhancers` with ``dnase`` / ``h3k27ac``: per element, the mean over the K562 DNase /
    H3K27ac tracks (:data:`ABC_DNASE`, :data:`ABC_H3K27AC` columns) of each track's mean over the members
    of its enhancer-centred construct (NaN without such tracks), and ``n_dnase_tracks, n_h3k27ac_tracks``."""
    cols = [c for c in predictions.columns if str(c).startswith((ABC_DNASE, ABC_H3K27AC))]
    elements = unique_enhancers(pairs)
    sel = design[design["modification"].astype(str) == "enhancer_centred"]
    preds = predictions[predictions["construct_id"].isin(sel["construct_id"])]
    m = construct_means(preds, sel, cols, labels=["element"]).set_index("element").reindex(range(len(elements)))
    for name, prefix in (("dnase", ABC_DNASE), ("h3k27ac", ABC_H3K27AC)):
        these = [c for c in cols if str(c).startswith(prefix)]
        elements[name] = m[these].mean(axis=1).to_numpy(dtype=np.float64) if these else np.nan
        elements[f"n_{name}_tracks"] = len(these)
    return elements


def basal_element_means(means: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`basal_elements` with ``pred_npad`` and ``pred_aavs1`` (the readout's member mean)."""
    elements = basal_elements(pairs)
    for mode in ("npad", "aavs1"):
        v = means[means["modification"] == mode].set_index("element")["value"]
        elements[f"pred_{mode}"] = v.reindex(range(len(elements))).to_numpy(dtype=np.float64)
    return elements


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Per-pair effects and every statistic (see :mod:`seqbench.experiments.enhancer_knockdown.stats`)."""
    from seqbench.experiments.enhancer_knockdown.stats import CandidateRules, LocalSettings, reduce_knockdown

    pairs = select_pairs(spec)
    means = readout_means(predictions, design)
    rules = CandidateRules.from_inputs(spec.inputs, n_members=spec.ensemble.n_members)
    analyses = set(spec.inputs["analyses"])
    local = LocalSettings(
        abc_elements=abc_element_means(predictions, design, pairs) if "enformer_abc" in analyses else None,
        basal_elements=basal_element_means(means, pairs) if "basal_expression" in analyses else None,
        abc_marks=spec.inputs["enformer_abc_marks"],
        abc_bins=int(spec.ensemble.n_window_bins),
        n_bootstrap=int(spec.inputs["bootstrap"]),
        seed=int(spec.seed),
        element_half_width=ELEMENT_HALF_WIDTH,
    )
    return reduce_knockdown(
        pairs, means, rules, effect_threshold=float(spec.inputs["effect_threshold_percent"]), local=local
    )


def summary_extra(spec) -> dict[str, Any]:
    """Where the job writes the candidate table that ``multiplicativity --from`` reads, and the
    knocked-down window (``inputs.enhancer_window``) the numbers are for."""
    return {"candidate_table": CANDIDATES_RELPATH.as_posix(), "enhancer_window": spec.inputs["enhancer_window"]}
