"""Saturation mutagenesis end to end on local Ray with the planted model (a tiny design), against
the planted law's known answers: a variant that breaks a planted promoter motif moves the 5-bin sum
by exactly the planted amount, and a variant outside every motif has no effect at all.

Expected values come from the NumPy reference of the law (:func:`reference_output`) applied to
member inputs cut here straight from the genome, independently of the construct engine, the
ensemble code and the TensorFlow model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.saturation_mutagenesis import demo as sm_demo
from seqbench.experiments.saturation_mutagenesis import design as sm
from seqbench.experiments.saturation_mutagenesis.demo import ensure_tables
from seqbench.genome import Genome
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.sequence.codes import COMPLEMENT, encode
from seqbench.spec import deep_merge, parse_spec

pytestmark = pytest.mark.ray

#: (locus, 0-based position): a position inside a planted promoter motif, and one outside any
CASES = {"F9": (215110, 215080), "IRF4": (700740, 700705)}
#: planted tracks averaged per locus (hepg2 -> HepG2 CAGE; "mel" matches nothing -> all CAGE tracks)
CAGE_TRACKS = {"F9": [2], "IRF4": [0, 2]}


def _member_sums(genome: Genome, chrom: str, pos: int, base: str) -> np.ndarray:
    """Planted [track] 5-bin landmark sums averaged over strands x shifts (-43, 0, 43), by the reference."""
    return _per_member_sums(genome, chrom, pos, base).mean(axis=0)


def _per_member_sums(genome: Genome, chrom: str, pos: int, base: str) -> np.ndarray:
    """Planted [member, track] 5-bin landmark sums of the strands x shifts (-43, 0, 43), by the reference."""
    L, off, size = law.SEQUENCE_LENGTH, law.OUTPUT_OFFSET, law.BIN_SIZE
    inputs, bins = [], []
    for s in (-43, 0, 43):
        seq = genome.read_padded(chrom, pos - L // 2 + s, pos + L // 2 + s).copy()
        p = L // 2 - s  # the variant's input position in this member
        seq[p] = encode(base)[0]
        inputs += [seq, COMPLEMENT[seq[::-1]]]
        bins += [(p - off) // size, (L - 1 - p - off) // size]
    out = reference_output(np.stack(inputs))
    return np.array([out[m, b - 2 : b + 3].sum(axis=0) for m, b in enumerate(bins)])


def test_planted_variant_effects_end_to_end(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.submit import submit

    layout = ensure_demo(cache_dir)
    demo_tables = ensure_tables(layout.root)
    # the demo's own rows at the chosen positions, as a small CAGI5 folder
    folder = tmp_path / "cagi5"
    for f in sorted(demo_tables.glob("*/*.tsv")):
        rows = pd.read_csv(f, sep="\t", header=None, dtype=str)
        locus = sm.locus_of(f)
        keep = rows[rows[1].astype(int).sub(1).isin(CASES.get(locus, ()))]
        if len(keep):
            (folder / f.parent.name).mkdir(parents=True, exist_ok=True)
            keep.to_csv(folder / f.parent.name / f.name, sep="\t", header=False, index=False)
    raw = deep_merge(
        sm_demo.demo_spec(layout.root),
        {"inputs": {"tables": str(folder), "calibration_loci": ["F9", "IRF4"]}, "runtime": {"shard_size": 5}},
    )
    spec = parse_spec(raw, origin="test", base_dir=tmp_path)
    result = submit(spec, job_dir=tmp_path / "job", progress=False)
    job = Path(result.job_dir)

    manifest = json.loads((job / "manifest.json").read_text())
    assert manifest["ensemble"]["bin_window"] == [-2, 2]
    assert {k: v["index"] for k, v in manifest["tracks"].items() if ":" in k} == {
        "cage:hepg2:2": 2, "dnase:hepg2:1": 1, "cage:mel:0": 0, "cage:mel:2": 2, "dnase:mel:1": 1,
    }
    assert result.summary["n_constructs"] == 2 * 2 * 4 and result.summary["n_variants"] == 2 * 2 * 3

    eff = pd.read_parquet(job / "tables" / "saturation_mutagenesis_variants.parquet")
    genome = Genome(spec.fasta)
    for locus, (inside, outside) in CASES.items():
        chrom = eff.loc[eff["locus"] == locus, "chromosome"].iloc[0]
        # outside any motif: no effect, exactly
        out = eff[(eff["locus"] == locus) & (eff["pos"] == outside)]
        assert len(out) == 2 * 3
        assert (out["delta"] == 0.0).all() and (out["alt_pred"] == out["ref_pred"]).all()
        # inside the motif: the planted change of the 5-bin sums
        hit = eff[(eff["locus"] == locus) & (eff["pos"] == inside)]
        ref_base = hit["ref"].iloc[0]
        alt_base = hit["alt"].iloc[0]
        want_ref = _member_sums(genome, chrom, inside, ref_base)
        want_alt = _member_sums(genome, chrom, inside, alt_base)
        cage = hit[(hit["assay"] == "cage") & (hit["alt"] == alt_base)].iloc[0]
        dnase = hit[(hit["assay"] == "dnase") & (hit["alt"] == alt_base)].iloc[0]
        tr = CAGE_TRACKS[locus]
        assert cage["n_tracks"] == len(tr)
        assert cage["ref_pred"] == pytest.approx(want_ref[tr].mean(), rel=1e-5)
        assert cage["alt_pred"] - cage["ref_pred"] == pytest.approx(want_alt[tr].mean() - want_ref[tr].mean(),
                                                                    rel=1e-4)
        assert cage["alt_pred"] < cage["ref_pred"] - 1.0  # one promoter hit fewer in 3 of the 5 bins
        # DNase: the broken hit's bin is one of the 5 bins, so the sum drops by exactly C1
        assert dnase["alt_pred"] - dnase["ref_pred"] == pytest.approx(-law.C1, abs=1e-5)
        assert want_alt[1] - want_ref[1] == pytest.approx(-law.C1, abs=1e-9)
        expected_delta = np.log2(want_alt[tr].mean() + 1) - np.log2(want_ref[tr].mean() + 1)
        assert cage["delta"] == pytest.approx(expected_delta, abs=1e-5)
        # log then aggregate: per member the track mean, its log, then the mean over the members
        log_first = [np.log2(_per_member_sums(genome, chrom, inside, b)[:, tr].mean(axis=1) + 1).mean()
                     for b in (alt_base, ref_base)]
        assert cage["delta_log_then_aggregate"] == pytest.approx(log_first[0] - log_first[1], abs=1e-5)
        # every alt at the motif position breaks the same hit: the same effect
        assert np.ptp(hit.loc[hit["assay"] == "cage", "delta"]) < 1e-6

    summary = json.loads((job / "summary.json").read_text())
    assert summary["model"] == "planted-v1" and summary["calibration_locus_b"] == "IRF4"
    assert summary["n_loci"] == 2 and summary["cage_calibration_r_a"] is not None
    assert summary["notes"]["cage_ldlr_r_aggregate_then_log"].startswith("the job has no locus LDLR")
    for name in ("per_locus_r", "calibration", "loci_cage", "loci_dnase", "extras"):
        assert (job / "figures" / f"saturation_mutagenesis_{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "planted" in (job / "report.md").read_text()

    # the folder of tables is part of the job's identity: a changed measurement is another job
    from seqbench.runtime.jobdir import JobDirError

    table = sorted(folder.glob("*/*.tsv"))[0]
    lines = table.read_text().splitlines()
    fields = lines[0].split("\t")
    lines[0] = "\t".join([*fields[:4], "9.0", fields[5]])
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(JobDirError, match=r"complete job of another spec \(inputs.tables differ"):
        submit(spec, job_dir=job, progress=False)
