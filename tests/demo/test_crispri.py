"""Synthetic CRISPRi inputs: deterministic, idempotent, and true to the planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from seqbench.demo.crispri import ensure_crispri_inputs
from seqbench.demo.synthetic import ensure_demo, find_motif_occurrences
from seqbench.genome import Genome
from seqbench.inputs import crispri
from seqbench.models.planted import law


def test_inputs_are_deterministic_and_idempotent(cache_dir):
    layout = ensure_demo(cache_dir)
    paths = ensure_crispri_inputs(layout.root)
    before = {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in paths.items()}
    again = ensure_crispri_inputs(layout.root)
    assert {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in again.items()} == before
    assert set(paths) == set(crispri.INPUT_KEYS)
    for k, key in crispri.INPUT_KEYS.items():
        assert paths[k] == layout.root / key.default


def test_candidates_follow_the_planted_truth(cache_dir):
    layout = ensure_demo(cache_dir)
    ensure_crispri_inputs(layout.root)
    truth = json.loads(layout.truth.read_text())
    genome = Genome(layout.fasta)
    pairs = crispri.load_pairs({k: layout.root / v.default for k, v in crispri.INPUT_KEYS.items()}, genome)
    ztab = pd.read_csv(layout.root / crispri.INPUT_KEYS["crispri_table"].default, sep="\t")
    kind = ztab.set_index("ziga_key").loc[pairs["ziga_key"], "element_type"].to_numpy()
    planted_fix = {tuple(e["fix_enhancer_wide_window"]) for e in truth["enhancers"]}
    is_planted = np.array([(a, b) in planted_fix for a, b in zip(pairs.fix_start, pairs.fix_end, strict=False)])
    is_null = kind == "null_region"
    assert is_planted.sum() == len(truth["enhancers"])  # every planted enhancer is a candidate
    assert ((kind == "enhancer") == is_planted).all()
    assert (ztab.set_index("ziga_key").loc[pairs["ziga_key"], "planted"].to_numpy() == ~is_null).all()
    for r, k in zip(pairs.itertuples(), kind, strict=True):
        codes = genome.fetch(r.chrom, r.fix_start, r.fix_end)
        enh = find_motif_occurrences(codes, law.ENHANCER_MOTIF)
        prom = find_motif_occurrences(codes, law.PROMOTER_MOTIF)
        g = next(x for x in truth["genes"] if x["gene"] == r.gene)
        if k == "proximal":  # the gene's whole promoter, no enhancer motif
            assert not enh and len(prom) == len(g["promoter_motifs"]) and r.distance < 3000
        else:
            assert bool(enh) == (k == "enhancer") and not prom  # nulls carry no motif
        assert (r.sequence_start, r.sequence_end, r.main_tss_bin) == (
            g["sequence_start"],
            g["sequence_end"],
            g["main_tss_bin"],
        )
        assert r.distance == abs((r.enhancer_start + r.enhancer_end) // 2 - g["tss_centre"])
    # planted knock-downs lower expression, nulls are noise around zero; both classes have exceptions
    assert (pairs.observed_log2fc[~is_null] < 0).all()
    assert pairs.observed_percent[is_null].max() < 15
    assert pairs.validated[~is_null].mean() > 0.6 and pairs.validated[is_null].mean() < 0.1
    assert pairs.validated[is_null].any() and not pairs.validated[~is_null].all()
    # nulls cover the paper's distance bins, and every bin holds validated and non-validated pairs
    d = pairs.distance[is_null]
    assert d.min() < 3000 and d.max() > 34_500
    bins = pd.cut(pairs.distance, [0, 3000, 12_500, 34_500, np.inf], right=False)
    both = pairs.groupby(bins, observed=False)["validated"].agg(["any", "all"])
    assert both["any"].all() and not both["all"].any(), both
