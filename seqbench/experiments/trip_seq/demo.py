"""Synthetic TRIP-seq inputs for the embedded ``trip-seq`` default, on the planted demo genome.

:func:`ensure_trip_demo` writes, under a demo root (the one of :func:`seqbench.demo.synthetic.ensure_demo`),
the files of the paper's ``Data/Cohen_genomic_environments/`` (experiments-spec §8.1) in the same layout::

    Data/Cohen_genomic_environments/trip_seq.tsv            promoter, chr, location, strand, log2(exp)
    Data/Cohen_genomic_environments/trip_seq_sequences.tsv  Name, Oligo_id, Sequence (six promoters)
    Data/Cohen_genomic_environments/trip_plasmid.gb         a synthetic plasmid, GenBank with its features
    Data/Cohen_genomic_environments/demo_truth.json         what was planted (written last)

* Six promoters ``hk1, hk2, hk3, dev1, dev2, dev3`` of :data:`CRS_LENGTH` random bp with
  :data:`PROMOTER_MOTIFS` (6, 5, 4, 3, 2, 1) copies of the planted promoter motif near the fragment
  midpoint (the landmark): promoter strength is known and ranked hk1 > ... > dev3.
* The plasmid is random sequence (no motif) with the authors' feature coordinates (0-based half-open):
  5' ITR [1809, 1950), promoter slot [4294, 4426), tdTomato [4432, 5137), 3' ITR [5990, 6128).
* Integration sites: one near each planted enhancer of the demo genome, at the signed distance
  ``enhancer mid - location`` of :data:`NEAR_DISTANCES` (in turn; the next one, or its negative, where a
  site would fall within 1 kb of a motif or an N run), and :data:`N_NEUTRAL` sites >= 100 kb
  from every planted enhancer motif and TSS; every site >= 1 kb from any planted motif and any N run.
  Each promoter gets two near-enhancer and four neutral sites; the integration strand alternates.
* ``log2(exp) = log2(planted) + noise`` (``N(0, NOISE_SD)``, seeded), ``planted`` = :func:`planted_readout`
  of the minimal insert over the default ensemble (shifts -43, 0, 43 x strands +, -), whole input.  One site
  is measured twice (averaged by the experiment) and one row has an empty cell (dropped, ``.dropna()``).

The truth file records every site with its planted value with and without enhancer motifs, per insert type.

Deterministic (seeded PCG64 through SeedSequence); written idempotently and atomically
(:func:`seqbench.files.write_if_changed`), the truth file last.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.experiments.trip_seq.design import NAME, PlasmidParts, build_insert
from seqbench.files import write_if_changed
from seqbench.inputs.plasmids import format_genbank
from seqbench.models.planted import law

FORMAT_VERSION = 1
SEED = 20230301
CRS_LENGTH = 200
PROMOTERS = ("hk1", "hk2", "hk3", "dev1", "dev2", "dev3")
PROMOTER_MOTIFS = (6, 5, 4, 3, 2, 1)
#: motif starts in the fragment (0-based); the first k are planted in a promoter with k copies
MOTIF_STARTS = (95, 109, 123, 137, 81, 67)
NEAR_DISTANCES = (1_500, -3_000, 4_500, -8_000, 15_000, -30_000)
N_NEUTRAL = 24
NEUTRAL_CLEARANCE = 100_000
MOTIF_CLEARANCE = 2_000
NOISE_SD = 0.15  # log2 units
PLASMID_LENGTH = 6_500
FEATURES = {"5' ITR": (1809, 1950), "promoter": (4294, 4426), "tdTomato": (4432, 5137), "3' ITR": (5990, 6128)}
DEMO_WINDOWS = [0, 12501, 39321]

TRIP_DIR = Path("Data/Cohen_genomic_environments")
FILES = {"trip_table": "trip_seq.tsv", "sequences": "trip_seq_sequences.tsv", "plasmid": "trip_plasmid.gb"}
TRUTH_NAME = "demo_truth.json"

_COMP = str.maketrans("ACGTN", "TGCAN")
PROM = law.PROMOTER_MOTIF
ENH = law.ENHANCER_MOTIF


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


def motif_centres(seq: str, motif: str) -> list[int]:
    """Centres (start + 5, 0-based) of exact copies of ``motif`` or its reverse complement in ``seq``."""
    k = len(motif)
    return sorted(i + k // 2 for i in range(len(seq) - k + 1) if seq[i : i + k] in (motif, revcomp(motif)))


# ---------------------------------------------------------------- the closed form


def planted_readout(
    prom: Sequence[int],
    enh: Sequence[int],
    landmark: int,
    *,
    shifts: Sequence[int] = (-43, 0, 43),
    strands: Sequence[str] = ("+", "-"),
    window: int = 0,
) -> float:
    """The planted K562 CAGE 3-bin landmark sum, mean over the members, from motif centres alone.

    ``prom``/``enh``: motif centres in the edited sequence (0-based); ``landmark``: the landmark's edited
    position.  Member (strand, shift ``s``): an edited position ``e`` sits at input position
    ``x = e - landmark + L // 2 - s`` (``L - 1 - x`` on ``-``); a hit counts when its 11 bp lie in
    ``[0, L)`` and, with ``window`` > 0, in ``[landmark - window // 2, landmark - window // 2 + window)``.
    Then the law of :mod:`seqbench.models.planted.law` summed over output bins ``b - 1 .. b + 1``.
    """
    L, bs, o = law.SEQUENCE_LENGTH, law.BIN_SIZE, law.OUTPUT_OFFSET // law.BIN_SIZE
    half = law.MOTIF_LENGTH // 2
    lo_w, hi_w = (landmark - window // 2, landmark - window // 2 + window) if window else (-10**18, 10**18)

    def kept(c: int) -> bool:
        return lo_w <= c - half and c + half + 1 <= hi_w

    total = 0.0
    for strand in strands:
        for s in shifts:
            def pos(e: int, s: int = s, strand: str = strand) -> int:
                x = e - landmark + L // 2 - s
                return L - 1 - x if strand == "-" else x

            ps = [pos(c) for c in prom if kept(c)]
            es = [pos(c) for c in enh if kept(c)]
            ps = [x // bs for x in ps if half <= x < L - half]
            es = [x // bs for x in es if half <= x < L - half]
            b = (pos(landmark) - law.OUTPUT_OFFSET) // bs
            for j in (b - 1, b, b + 1):
                big_j = j + o
                p = sum(1 for i in ps if abs(i - big_j) <= 1)
                e = math.fsum(law.decay(abs(i - big_j) * bs) for i in es)
                total += law.A * (p + law.P0) * (1.0 + law.B_K562 * e)
    return total / (len(strands) * len(shifts))


def site_motifs(truth: dict[str, Any], chrom: str, location: int, insert: str) -> tuple[list[int], list[int]]:
    """Promoter and enhancer motif centres in the edited sequence of ``insert`` put before ``chrom:location``."""
    n = len(insert)
    half = law.MOTIF_LENGTH // 2

    def moved(q: int) -> int:
        if q - half < location < q + half + 1:
            raise ValueError(f"a planted motif centred at {chrom}:{q} spans the insertion point {location}")
        return q if q < location else q + n

    gp = [m["centre"] for g in truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    ge = [m["centre"] for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
    prom = sorted([moved(q) for q in gp] + [location + c for c in motif_centres(insert, PROM)])
    enh = sorted([moved(q) for q in ge] + [location + c for c in motif_centres(insert, ENH)])
    return prom, enh


# ---------------------------------------------------------------- generation


class _Gen:
    def __init__(self, seed: int, key: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))

    def clean(self, n: int) -> str:
        while True:
            s = "".join("ACGT"[i] for i in self.rng.integers(0, 4, n))
            if not motif_centres(s, PROM) and not motif_centres(s, ENH):
                return s


def _promoter(g: _Gen, k: int) -> str:
    while True:
        s = g.clean(CRS_LENGTH)
        for start in MOTIF_STARTS[:k]:
            m = PROM if g.rng.integers(0, 2) == 0 else revcomp(PROM)
            s = s[:start] + m + s[start + len(m) :]
        if len(motif_centres(s, PROM)) == k and not motif_centres(s, ENH):
            return s


def _genbank(seq: str) -> str:
    lines = [
        f"LOCUS       SEQBENCH_TRIP_DEMO {len(seq)} bp    DNA     circular SYN 01-MAR-2023",
        "DEFINITION  Synthetic stand-in for the TRIP plasmid; seqbench demo, random sequence, no biology.",
        "FEATURES             Location/Qualifiers",
    ]
    kinds = {"5' ITR": "repeat_region", "promoter": "promoter", "tdTomato": "CDS", "3' ITR": "repeat_region"}
    for label, (s, e) in FEATURES.items():
        lines += [f"     {kinds[label]:<16}{s + 1}..{e}", f'                     /label="{label}"']
    return format_genbank(lines, seq)


def _all_motifs(truth: dict[str, Any], chrom: str) -> list[int]:
    out = [m["centre"] for g in truth["genes"] if g["chromosome"] == chrom for m in g["promoter_motifs"]]
    out += [m["centre"] for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
    return out


def _sites(truth: dict[str, Any], g: _Gen) -> list[dict[str, Any]]:
    """Near-enhancer sites (one per enhancer) then neutral sites, as the module docstring."""
    near = []
    for k, e in enumerate(truth["enhancers"]):
        motifs = _all_motifs(truth, e["chromosome"])
        runs = [(r["start"], r["end"]) for r in truth["n_runs"] if r["chromosome"] == e["chromosome"]]
        tries = [NEAR_DISTANCES[(k + i) % len(NEAR_DISTANCES)] * sign for i in range(len(NEAR_DISTANCES))
                 for sign in (1, -1)]
        for d in tries:  # the first distance whose site is clear of every motif and N run
            loc = int(e["mid"]) - d
            if min(abs(loc - q) for q in motifs) >= MOTIF_CLEARANCE // 2 and not any(
                a - 1000 <= loc < b + 1000 for a, b in runs
            ):
                break
        else:
            raise ValueError(f"demo: no clear site near enhancer {e['ziga_key']}")
        near.append({"chrom": e["chromosome"], "location": loc, "kind": "near_enhancer",
                     "enhancer": e["ziga_key"], "enhancer_distance": d})
    neutral: list[dict[str, Any]] = []
    chroms = list(truth["chromosomes"])
    while len(neutral) < N_NEUTRAL:
        chrom = chroms[int(g.rng.integers(0, len(chroms)))]
        length = int(truth["chromosomes"][chrom])
        loc = int(g.rng.integers(50_000, length - 50_000))
        feats = [m["centre"] for e in truth["enhancers"] if e["chromosome"] == chrom for m in e["motifs"]]
        feats += [gn["tss_centre"] for gn in truth["genes"] if gn["chromosome"] == chrom]
        runs = [(r["start"], r["end"]) for r in truth["n_runs"] if r["chromosome"] == chrom]
        if feats and min(abs(loc - q) for q in feats) < NEUTRAL_CLEARANCE:
            continue
        if any(a - 1000 <= loc < b + 1000 for a, b in runs):
            continue
        if any(abs(loc - s["location"]) < 1000 for s in neutral if s["chrom"] == chrom):
            continue
        neutral.append({"chrom": chrom, "location": loc, "kind": "neutral", "enhancer": "", "enhancer_distance": 0})
    return near + neutral


def _fmt(x: Any) -> str:
    return repr(float(x)) if isinstance(x, float) else str(x)


def generate(root: Path, seed: int = SEED) -> dict[str, Any]:
    """Write the TRIP demo files under ``root / Data/Cohen_genomic_environments``; return the truth dict."""
    root = Path(root)
    genome_truth = json.loads((root / "demo_truth.json").read_text())
    out = root / TRIP_DIR
    out.mkdir(parents=True, exist_ok=True)
    g = _Gen(seed, 1)
    crs = {p: _promoter(g, k) for p, k in zip(PROMOTERS, PROMOTER_MOTIFS, strict=True)}
    pg = _Gen(seed, 2)
    plasmid = pg.clean(PLASMID_LENGTH)
    (i5, prom_slot, rep, i3) = FEATURES.values()
    parts = PlasmidParts(plasmid[i5[0] : prom_slot[0]], plasmid[prom_slot[1] : i3[1]], plasmid[rep[0] : rep[1]])
    sites = _sites(genome_truth, _Gen(seed, 3))
    near = [s for s in sites if s["kind"] == "near_enhancer"]
    neutral = [s for s in sites if s["kind"] == "neutral"]
    rows: list[dict[str, Any]] = []
    for k, p in enumerate(PROMOTERS):
        mine = near[2 * k : 2 * k + 2] + neutral[4 * k : 4 * k + 4]
        for j, s in enumerate(mine):
            rows.append({"promoter": p, **s, "strand": "+" if (j + k) % 2 == 0 else "-"})
    noise = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 4])))
    truth_sites = []
    for r in rows:
        planted: dict[str, float] = {}
        for itype in ("minimal", "full"):
            seq, lm = build_insert(crs[r["promoter"]], itype, r["strand"], parts)
            prom, enh = site_motifs(genome_truth, r["chrom"], r["location"], seq)
            planted[itype] = planted_readout(prom, enh, r["location"] + lm)
            planted[f"{itype}_without_enhancers"] = planted_readout(prom, [], r["location"] + lm)
        truth_sites.append({**r, "planted": planted})
        r["log2_exp"] = math.log2(planted["minimal"]) + NOISE_SD * float(noise.standard_normal())
    dup = dict(rows[0])
    dup["log2_exp"] = math.log2(truth_sites[0]["planted"]["minimal"]) + NOISE_SD * float(noise.standard_normal())
    table_rows = [*rows, dup]
    lines = ["\t".join(["promoter", "chr", "location", "strand", "log2(exp)", "barcode"])]
    for i, r in enumerate(table_rows):
        lines.append("\t".join([r["promoter"], r["chrom"], str(r["location"]), r["strand"],
                                _fmt(float(r["log2_exp"])), f"BC{i:04d}"]))
    lines.append("\t".join(["hk1", neutral[-1]["chrom"], str(neutral[-1]["location"]), "+", "", "BCNA"]))
    seq_lines = ["Name\tOligo_id\tSequence"]
    for k, p in enumerate(PROMOTERS):
        seq_lines.append(f"{p}\t{p}_{'-' if k % 2 else '+'}\t{crs[p]}")
    write_if_changed(out / FILES["plasmid"], _genbank(plasmid).encode())
    write_if_changed(out / FILES["sequences"], ("\n".join(seq_lines) + "\n").encode())
    write_if_changed(out / FILES["trip_table"], ("\n".join(lines) + "\n").encode())
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "conventions": ("0-based, half-open; the insert goes before base `location`; enhancer_distance ="
                        " enhancer mid - location (bp); planted = mean over shifts -43, 0, 43 x strands +, -"
                        " of the K562 CAGE 3-bin landmark sum, whole input"),
        "promoters": {p: {"n_promoter_motifs": k, "sequence": crs[p]}
                      for p, k in zip(PROMOTERS, PROMOTER_MOTIFS, strict=True)},
        "features": {k: list(v) for k, v in FEATURES.items()},
        "duplicated_site": 0,
        "sites": truth_sites,
    }
    write_if_changed(out / TRUTH_NAME, (json.dumps(truth, indent=1) + "\n").encode())
    return truth


def ensure_trip_demo(root: Path, seed: int = SEED) -> Path:
    """The TRIP demo files under ``root`` (a demo root with ``demo_truth.json``), built once; the truth path."""
    root = Path(root)
    truth_path = root / TRIP_DIR / TRUTH_NAME
    try:
        truth = json.loads(truth_path.read_text())
        complete = (truth.get("format_version") == FORMAT_VERSION and truth.get("seed") == seed
                    and all((root / TRIP_DIR / f).is_file() for f in FILES.values()))
    except (OSError, ValueError):
        complete = False
    if not complete:
        truth_path.unlink(missing_ok=True)
        generate(root, seed)
    return truth_path


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the synthetic TRIP table, promoters and plasmid on the planted demo genome,
    both insert types, the planted model at three receptive-field windows (whole input, 12,501 and 39,321
    bp; each a variant, compared in Fig. S16)."""
    ensure_trip_demo(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "models": [{"kind": "planted", "windows": DEMO_WINDOWS}],
        "inputs": {f"{k}": str(TRIP_DIR / v) for k, v in FILES.items()},
    }
