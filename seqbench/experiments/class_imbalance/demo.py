"""Synthetic inputs of the embedded ``class-imbalance`` default, on the chromosomes of the shared demo genome.

:func:`ensure_class_imbalance_inputs` writes, under a demo root (the one of
:func:`seqbench.demo.synthetic.ensure_demo`, whose ``demo_truth.json`` gives the chromosome lengths),
the paper's files in their layout, in a folder of their own (the CRISPRi demo of ``enhancer-knockdown``
keeps ``Data/Fulco_CRISPRi/``)::

    Data/ClassImbalance/GRCh38-cCREs.bed              cCREs: chrom, start, end, 2 accessions, class
    Data/ClassImbalance/susie_df_small_blocks.tsv     filtered eQTL credible sets, one row per variant
    Data/ClassImbalance/ziga_additional_columns.tsv   CRISPRi pairs (the columns this analysis reads)
    Data/ClassImbalance/human_regions.bed             Basenji2-like regions, train / valid / test
    Data/ClassImbalance/gene_table.tsv                gene_id, gene_name (the "GTF" genes)
    Data/ClassImbalance/gene_renames.tsv              gene_name -> crispri_gene (one rename)

What is planted (the paper's claim, so the demo shows it):

* genes every 110-130 kb along each chromosome, the first one 60-65 kb from the chromosome start
  (its window starts below 0), strand + or - at random;
* cCREs **uniform** along the chromosomes (gaps of 1.5-4.5 kb, 150-349 bp long), with classes dELS,
  pELS, ``dELS,CTCF-bound``, PLS, ``CTCF-only,CTCF-bound`` and ``DNase-H3K4me3``: enhancer-like
  cCREs are uniform in distance to every TSS;
* 1-3 eQTL credible sets per gene, 5' of the gene, at distance ``200 + Exp(mean 20 kb)`` (redrawn
  above 90 kb), 1-5 variants within +- 2 kb (never across the TSS), each set in 1-2 tissues;
* per gene 1-3 **validated** CRISPRi pairs at ``300 + Exp(mean 22 kb)`` (redrawn above 140 kb) and
  3-7 non-validated ones uniform in 1-150 kb, on either side of the TSS; 2-kb windows ``mid +- 1000``,
  TSS bin ``[tss - 64, tss + 64)``; the third gene is named by an old symbol in the CRISPRi table (the
  rename table maps it), and a gene absent from the gene table carries 3 pairs (dropped by the match);
* regions of one Basenji2 input length, every half length, 70 % train, 15 % valid, 15 % test.

All random numbers come from PCG64 raw output under ``SeedSequence([demo seed, SEED_KEY])``
(:class:`seqbench.demo.synthetic._Stream`); every number written is an integer or the repr of an exact
mean, so the files are the same bytes on every machine.  Writing is idempotent and atomic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqbench.demo import synthetic as syn
from seqbench.experiments.class_imbalance.design import NAME
from seqbench.files import write_if_changed
from seqbench.models.base import BASENJI2_GEOMETRY

DEMO_DIR = Path("Data/ClassImbalance")
FILES = {
    "ccre_bed": DEMO_DIR / "GRCh38-cCREs.bed",
    "susie_table": DEMO_DIR / "susie_df_small_blocks.tsv",
    "crispri_table": DEMO_DIR / "ziga_additional_columns.tsv",
    "regions_bed": DEMO_DIR / "human_regions.bed",
    "gene_table": DEMO_DIR / "gene_table.tsv",
    "gene_renames": DEMO_DIR / "gene_renames.tsv",
}
SEED_KEY = 83  # stream key of this generator, under the demo's seed
CCRE_CLASSES = (  # (class, weight in percent)
    ("dELS", 45),
    ("pELS", 15),
    ("dELS,CTCF-bound", 10),
    ("PLS", 10),
    ("CTCF-only,CTCF-bound", 10),
    ("DNase-H3K4me3", 10),
)
TISSUES = ("Whole Blood", "Liver", "Lung", "Thyroid")
EQTL_MEAN, VALID_MEAN = 20_000, 22_000  # bp, means of the exponential distances
RENAMED_GENE, OLD_SYMBOL, UNLISTED_GENE = 2, "OLDNAME3", "NOTINGTF"
REGION_LENGTH = BASENJI2_GEOMETRY.sequence_length  # the Basenji2 regions are one input long

SUSIE_COLUMNS = ("variant_id", "gene_id", "cs_id", "tissue", "chromosome", "position", "ref", "alt", "tss", "Strand",
                 "tss_distance", "abs_tss_distance", "abs_tss_distance_mean")
ZIGA_COLUMNS = ("ziga_key", "chromosome", "gene", "main_tss_start", "main_tss_end", "enhancer_start", "enhancer_end",
                "fix_enhancer_wide_start", "fix_enhancer_wide_end", "actual_tss_distance", "validated")


def _exp_distance(stream: syn._Stream, mean: int, low: int, high: int) -> int:
    """``low + round(Exp(mean))``, redrawn until it is at most ``high``."""
    while True:
        d = low + round(-mean * math.log(1.0 - stream.uniform()))
        if d <= high:
            return d


def _genes(stream: syn._Stream, chromosomes: dict[str, int]) -> list[dict[str, Any]]:
    genes = []
    for chrom, length in chromosomes.items():
        tss = 60_000 + stream.integer(0, 5_000)
        while tss < length - 100_000:
            k = len(genes) + 1
            genes.append({"gene_id": f"ENSGDEMO{k:05d}", "gene_name": f"CIGENE{k}", "chrom": chrom, "tss": tss,
                          "strand": stream.sign(), "length": length})
            tss += 110_000 + stream.integer(0, 20_000)
    return genes


def _ccres(stream: syn._Stream, chromosomes: dict[str, int]) -> list[str]:
    lines = []
    cum = [sum(w for _, w in CCRE_CLASSES[: i + 1]) for i in range(len(CCRE_CLASSES))]
    for chrom, length in chromosomes.items():
        pos = stream.integer(0, 3_000)
        while pos + 400 < length:
            size = stream.integer(150, 349)
            pick = stream.integer(0, 99)
            cls = next(c for (c, _), top in zip(CCRE_CLASSES, cum, strict=True) if pick < top)
            n = len(lines) + 1
            lines.append(f"{chrom}\t{pos}\t{pos + size}\tEH38D{n:07d}\tEH38E{n:07d}\t{cls}")
            pos += size + stream.integer(1_500, 4_500)
    return lines


def _susie_rows(stream: syn._Stream, genes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for g in genes:
        tss, strand, length = g["tss"], g["strand"], g["length"]
        for j in range(stream.integer(1, 3)):
            while True:
                d = _exp_distance(stream, EQTL_MEAN, 200, 90_000)
                spread = min(2_000, (d - 1) // 2)
                ds = sorted({d + stream.integer(-spread, spread) for _ in range(stream.integer(1, 5))})
                starts = [tss - strand * di for di in ds]  # 0-based variant positions, 5' of the gene
                if all(0 <= s < length for s in starts):
                    break
            mean = sum(ds) / len(ds)
            tissues = stream.shuffled(TISSUES)[: stream.integer(1, 2)]
            for tissue in tissues:
                for di, s in zip(ds, starts, strict=True):
                    ref, alt = ("A", "G") if s % 2 else ("C", "T")
                    rows.append({
                        "variant_id": f"{g['chrom']}_{s + 1}_{ref}_{alt}", "gene_id": g["gene_id"],
                        "cs_id": f"{g['gene_id']}_L{j + 1}", "tissue": tissue,
                        "chromosome": g["chrom"].removeprefix("chr"), "position": s + 1, "ref": ref, "alt": alt,
                        "tss": tss, "Strand": strand, "tss_distance": s - tss, "abs_tss_distance": di,
                        "abs_tss_distance_mean": mean,
                    })
    return rows


def _pair(stream: syn._Stream, g: dict[str, Any], name: str, validated: bool, seen: set[str]) -> dict[str, Any]:
    tss = g["tss"]
    while True:
        d = _exp_distance(stream, VALID_MEAN, 300, 140_000) if validated else stream.integer(1_000, 150_000)
        mid = tss + stream.sign() * d
        key = f"demo_{name}_{mid - 250}-{mid + 250}"
        if mid - 1_000 >= 0 and mid + 1_000 <= g["length"] and key not in seen:
            seen.add(key)
            break
    return {
        "ziga_key": key, "chromosome": g["chrom"], "gene": name, "main_tss_start": tss - 64,
        "main_tss_end": tss + 64, "enhancer_start": mid - 250, "enhancer_end": mid + 250,
        "fix_enhancer_wide_start": mid - 1_000, "fix_enhancer_wide_end": mid + 1_000, "actual_tss_distance": d,
        "validated": validated,
    }


def _ziga_rows(stream: syn._Stream, genes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for k, g in enumerate(genes):
        name = OLD_SYMBOL if k == RENAMED_GENE else g["gene_name"]
        flags = [True] * stream.integer(1, 3) + [False] * stream.integer(3, 7)
        rows += [_pair(stream, g, name, v, seen) for v in flags]
    g = genes[len(genes) // 2]
    rows += [_pair(stream, g, UNLISTED_GENE, v, seen) for v in (True, False, False)]
    return rows


def _regions(stream: syn._Stream, chromosomes: dict[str, int]) -> list[str]:
    lines = []
    for chrom, length in chromosomes.items():
        start = stream.integer(0, 20_000)
        while start + REGION_LENGTH <= length:
            u = stream.uniform()
            kind = "train" if u < 0.7 else "valid" if u < 0.85 else "test"
            lines.append(f"{chrom}\t{start}\t{start + REGION_LENGTH}\t{kind}")
            start += REGION_LENGTH // 2
    return lines


def _table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    lines = ["\t".join(columns)] + ["\t".join(syn._format_cell(r[c]) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode("ascii")


def ensure_class_imbalance_inputs(data_root: Path) -> dict[str, Path]:
    """Write the synthetic inputs under ``data_root`` (a demo root with ``demo_truth.json``); return
    their paths under the spec ``inputs`` keys.  Idempotent: unchanged files are not rewritten."""
    root = Path(data_root)
    truth_path = root / syn.TRUTH_RELPATH
    if not truth_path.is_file():
        raise FileNotFoundError(
            f"{truth_path}: no demo truth; build the demo first (seqbench.demo.synthetic.ensure_demo)"
        )
    truth = json.loads(truth_path.read_text())
    chromosomes = {c: int(n) for c, n in truth["chromosomes"].items()}
    stream = syn._Stream(int(truth["seed"]), SEED_KEY)
    genes = _genes(stream, chromosomes)
    blobs = {
        "ccre_bed": ("\n".join(_ccres(stream, chromosomes)) + "\n").encode("ascii"),
        "susie_table": _table(SUSIE_COLUMNS, _susie_rows(stream, genes)),
        "crispri_table": _table(ZIGA_COLUMNS, _ziga_rows(stream, genes)),
        "regions_bed": ("\n".join(_regions(stream, chromosomes)) + "\n").encode("ascii"),
        "gene_table": _table(("gene_id", "gene_name"), genes),
        "gene_renames": _table(("gene_name", "crispri_gene"),
                               [{"gene_name": genes[RENAMED_GENE]["gene_name"], "crispri_gene": OLD_SYMBOL}]),
    }
    paths = {k: root / rel for k, rel in FILES.items()}
    for k, blob in blobs.items():
        write_if_changed(paths[k], blob)
    return paths


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the synthetic inputs above, the paper's numbers, the planted model (which
    predicts nothing here: the design has no constructs) and the demo genome."""
    ensure_class_imbalance_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "inputs": {k: rel.as_posix() for k, rel in FILES.items()},
    }
