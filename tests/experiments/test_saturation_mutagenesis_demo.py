"""The synthetic CAGI5 tables of the embedded default: layout, determinism, and the planted sums
the simulated measurements come from, checked against the NumPy reference of the law."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqbench.demo.synthetic import ensure_demo, find_motif_occurrences
from seqbench.experiments.saturation_mutagenesis import demo as demo
from seqbench.experiments.saturation_mutagenesis import design as sm
from seqbench.genome import Genome
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import encode


@pytest.fixture(scope="module")
def built(cache_dir):
    layout = ensure_demo(cache_dir)
    folder = demo.ensure_tables(layout.root)
    return layout, folder, json.loads((layout.root / demo.LOCI_RELPATH).read_text())


def test_tables_are_in_the_paper_layout_and_idempotent(built):
    layout, folder, meta = built
    assert folder == layout.root / "Data/Kircher_saturation_mutagenesis/CAGI5_train_test_hg19_to_hg38_liftover"
    frame = sm.load_tables(folder)
    assert list(dict.fromkeys(frame["locus"])) == ["F9", "HBB", "IRF4", "LDLR"]
    assert set(frame["file"].str.split("/").str[0]) == {"train", "test"}
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("*/*.tsv")}
    demo.ensure_tables(layout.root)  # same content: nothing rewritten
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("*/*.tsv")} == stamps
    genome = Genome(layout.fasta)
    sm.check_reference(frame, genome, folder)  # every Ref is the genome's base
    for loc in meta["loci"]:
        rows = frame[frame["locus"] == loc["locus"]]
        lo, hi = loc["window"]
        assert rows["pos"].min() == lo and rows["pos"].max() == hi - 1 and hi - lo == demo.WINDOW
        for m in loc["promoter_motifs"]:  # the window covers the chosen motif copies with margin
            if lo + demo.MOTIF_MARGIN <= m["start"] <= hi - demo.MOTIF_MARGIN - law.MOTIF_LENGTH:
                break
        else:
            pytest.fail(f"{loc['locus']}: no planted motif copy inside its window")
        # no variant creates a motif copy
        ctx = genome.fetch(loc["chromosome"], lo - 10, hi + 10)
        for r in rows.itertuples():
            seq = ctx[r.pos - lo : r.pos - lo + 21].copy()
            before = {(s, m) for m in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF) for s in find_motif_occurrences(seq, m)}
            seq[10] = encode(r.alt)[0]
            after = {(s, m) for m in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF) for s in find_motif_occurrences(seq, m)}
            assert after <= before


def test_planted_sums_match_the_reference(built):
    """The demo's closed form = the NumPy reference's 5-bin sums (mean over shifts, + strand)."""
    layout, _folder, meta = built
    truth = json.loads(layout.truth.read_text())
    genome = Genome(layout.fasta)
    loc = next(x for x in meta["loci"] if x["locus"] == "LDLR")
    chrom = loc["chromosome"]
    prom = [m["centre"] for m in loc["promoter_motifs"]]
    gene = next(g for g in truth["genes"] if g["gene"] == "GENE6")
    assert sorted(prom) == sorted(m["centre"] for m in gene["promoter_motifs"])
    enh = [m["centre"] for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
    m0 = loc["promoter_motifs"][0]
    L, off = law.SEQUENCE_LENGTH, law.OUTPUT_OFFSET
    for pos, broken in ((m0["start"] + 3, True), (loc["window"][0], False)):
        ref = genome.fetch(chrom, pos, pos + 1)[0]
        alt = (ref + 1) % 4
        seqs, bins = [], []
        for s in demo.SHIFTS:
            seq = genome.read_padded(chrom, pos - L // 2 + s, pos + L // 2 + s).copy()
            seq[L // 2 - s] = alt
            seqs.append(seq)
            bins.append((L // 2 - s - off) // law.BIN_SIZE)
        out = reference_output(np.stack(seqs))
        want = np.mean([out[k, b - 2 : b + 3].sum(axis=0) for k, b in enumerate(bins)], axis=0)
        intact = [q for q, m in zip(prom, loc["promoter_motifs"], strict=True)
                  if not (broken and m is m0)]
        cage_hepg2, dnase = demo.planted_sums(pos, intact, enh, law.B_HEPG2)
        cage_k562, _ = demo.planted_sums(pos, intact, enh, law.B_K562)
        assert cage_hepg2 == pytest.approx(want[2], rel=1e-12)
        assert cage_k562 == pytest.approx(want[0], rel=1e-12)
        assert dnase == pytest.approx(want[1], rel=1e-12)
