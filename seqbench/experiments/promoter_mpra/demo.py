"""Synthetic Weingarten-Gabbay (Segal) inputs for the embedded ``promoter-mpra`` default.

:func:`ensure_promoter_mpra_demo` writes, under a demo root (the one of
:func:`seqbench.demo.synthetic.ensure_demo`), the files of the paper's ``Data/Segal_promoter/``
(experiments-spec §3.1) in the same layout::

    Data/Segal_promoter/GSM3323461_oligos_measurements_processed_data.tab   Oligo_index, Oligo_sequence (157)
    Data/Segal_promoter/native_core_promoters.tsv                           40 native promoters
    Data/Segal_promoter/pic_binding_sites.tsv                               10 Fw/Rv PIC pairs
    Data/Segal_promoter/synthetic_configurations_of_core_promoters.tsv      3 backgrounds x 8 configurations
    Data/Segal_promoter/tata_inr_shift.tsv                                  RPLP0 (29 positions), HIV1 (10)
    Data/Segal_promoter/tf_activity_screen.tsv                              2 backgrounds x (1 + 14 motifs)
    Data/Segal_promoter/PZDONOR ... (Ns).gbk                                a synthetic plasmid, GenBank
    Data/Segal_promoter/demo_truth.json                                     what was planted (written last)

Every fragment is 164 nt of random sequence that holds no copy of either planted motif, and no
window one substitution away from one (nor ``TATAAAAG``), except the copies planted on purpose:
the promoter motif ``GCTATAAAAGC`` (the "TATA") and, in the TF screen, the enhancer motif.
Fragment positions are 0-based; a motif "at s" occupies ``[s, s + 11)``; the TSS of the synthetic
fragments is at fragment position :data:`TSS_IN_FRAGMENT` (116), so ``TATA_position = s - 116``.

* The RPLP0 TATA-shift background carries a second promoter-motif copy, the "CAT box" analogue,
  at :data:`CAT_BOX_START` (62): it lies inside the local ISM window 46..85, and shifted TATAs
  that overlap it destroy it (the paper's drop near −50).  Its TATA moves over
  ``TATA_position = −111, −106, …, +29`` (starts 5..145); the baseline is −11 (start 105).
* Every background the authors ISM (experiments-spec §3.5) carries planted motifs across the
  demo's background-ISM window :data:`BACKGROUND_ISM_WINDOW` (fragment positions 11..16), so
  that its ISM map has motif positions that light up and positions that do not: each
  core-configuration background (``Configuration_summary == 0``, shared by its 8
  configurations) a promoter motif at :data:`CORE_BG_MOTIF_START` (14, the window's last 3
  positions), each TF-screen background (``Motif_info == "-"``, shared by its 14 motif oligos)
  one at :data:`TF_BG_MOTIF_START` (3, the window's first 3 positions), and oligo
  :data:`DNASE_EXAMPLE_INDEX` (12885, the authors' ``DNAse_example``; in no set) a promoter motif at
  2 and an enhancer motif at 15 (window: promoter, promoter, none, none, enhancer, enhancer).
  Planted motifs never sit within one substitution of another window, so no substitution makes
  a new hit.
* Measured expression is simulated from the planted law: ``(3 P0 + sum over promoter hits of
  w(c)) * (1 + B_K562 * n_enhancer_hits) * exp(0.25 eps)``, ``eps ~ N(0, 1)`` seeded, where
  ``w(c)`` (:func:`positional_weight`) is the mean over the default ensemble of the planted
  model's weight ``3 - |hit bin - landmark bin|`` of a hit centred at fragment position ``c``
  (minimal insert, landmark at the fragment midpoint).  So correlations are high but not 1.

The plasmid is random sequence of :data:`PLASMID_LENGTH` bp with the paper's slice constants: the
N-region (164 N) at ``plasmid[5316:5480]`` = ``full_insert[4658:4822]``, eGFP (rc) at
``[4189, 4909)``.  The landing pad is put at the midpoint of the largest gap between two planted
TSSs of the demo genome (>= 200 kb from every TSS, so only distant enhancers, if any, reach it).

Deterministic (seeded PCG64) and written atomically: each file goes to a temporary name and is
moved into place with :func:`os.replace`; the truth file, written last, marks the set complete.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.experiments.promoter_mpra.design import NAME
from seqbench.inputs.plasmids import format_genbank
from seqbench.models.planted import law

FORMAT_VERSION = 2
SEED = 20230301
CRS_LENGTH = 164
TSS_IN_FRAGMENT = 116
CAT_BOX_START = 62
BASELINE_TATA_POSITION = -11
TATA_LOCATOR = "TATAAAAG"  # inside the planted promoter motif GCTATAAAAGC (offset 2)
PLASMID_LENGTH = 7_200
MIN_TSS_DISTANCE = 200_000
NOISE_SD = 0.25  # natural-log scale
#: fragment positions [start, end) mutated by the demo's background ISM (0-based, half-open): short, so
#: that the embedded default stays cheap (6 backgrounds x 6 positions x 3 alternatives)
BACKGROUND_ISM_WINDOW = (11, 17)
CORE_BG_MOTIF_START = 14  # [14, 25): the window's last 3 positions
TF_BG_MOTIF_START = 3  # [3, 14): the window's first 3 positions
DNASE_EXAMPLE_INDEX = 12885  # the authors' extra ISM background
DNASE_EXAMPLE_MOTIFS = ((2, "prom"), (15, "enh"))  # [2, 13) and [15, 26)

SEGAL_DIR = Path("Data/Segal_promoter")
FILES = {
    "oligos": "GSM3323461_oligos_measurements_processed_data.tab",
    "native": "native_core_promoters.tsv",
    "pic": "pic_binding_sites.tsv",
    "core_configs": "synthetic_configurations_of_core_promoters.tsv",
    "tata_shift": "tata_inr_shift.tsv",
    "tf_screen": "tf_activity_screen.tsv",
    "plasmid": "PZDONOR EF1alpha Cherry ACTB GFP synthetic core promoter library (Ns).gbk",
}
TRUTH_NAME = "demo_truth.json"
MEASURED = "GFP_RFP_ratio(mean exp)"

_COMP = str.maketrans("ACGTN", "TGCAN")
PROM = law.PROMOTER_MOTIF
ENH = law.ENHANCER_MOTIF


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass(frozen=True)
class PromoterDemo:
    """Where the demo files are and the spec inputs the demo needs."""

    root: Path
    landing_pad: str
    tata_motif: str
    truth: Path


def positional_weight(
    centre: int,
    crs_length: int = CRS_LENGTH,
    shifts: tuple[int, ...] = (-43, 0, 43),
    strands: tuple[str, ...] = ("+", "-"),
) -> float:
    """Mean planted weight of a promoter hit centred at fragment position ``centre`` (0-based).

    Minimal insert, landmark at ``crs_length // 2``, window centred on it (landmark at input
    position ``L // 2 - s`` for shift ``s``); a hit in input bin ``h`` counts ``max(0, 3 - |h - b|)``
    times in the 3-bin landmark sum around landmark bin ``b`` (``prom`` is a 3-bin window).
    """
    L, off, bs = law.SEQUENCE_LENGTH, law.OUTPUT_OFFSET, law.BIN_SIZE
    total = 0.0
    for strand in strands:
        for s in shifts:
            lm = L // 2 - s
            x = lm - crs_length // 2 + centre
            if strand == "-":
                lm, x = L - 1 - lm, L - 1 - x
            total += max(0, 3 - abs((x - off) // bs - (lm - off) // bs))
    return total / (len(strands) * len(shifts))


def _hits(seq: str, motif: str) -> list[int]:
    """Starts of exact copies of ``motif`` or its reverse complement."""
    out = []
    for m in (motif, revcomp(motif)):
        out += [i for i in range(len(seq) - len(m) + 1) if seq[i : i + len(m)] == m]
    return sorted(out)


def _near(seq: str, motif: str) -> list[int]:
    """Starts of windows at Hamming distance <= 1 from ``motif`` or its reverse complement."""
    out = set()
    for m in (motif, revcomp(motif)):
        k = len(m)
        for i in range(len(seq) - k + 1):
            if sum(a != b for a, b in zip(seq[i : i + k], m, strict=True)) <= 1:
                out.add(i)
    return sorted(out)


class _Gen:
    def __init__(self, seed: int, key: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))

    def random_seq(self, n: int) -> str:
        return "".join("ACGT"[i] for i in self.rng.integers(0, 4, n))

    def clean_background(self, n: int = CRS_LENGTH) -> str:
        while True:
            s = self.random_seq(n)
            if not _near(s, PROM) and not _near(s, ENH) and TATA_LOCATOR not in s and TATA_LOCATOR not in revcomp(s):
                return s


def _plant(bg: str, items: list[tuple[int, str]]) -> str:
    s = bg
    for start, motif in items:
        s = s[:start] + motif + s[start + len(motif) :]
    return s


def _clean_after(seq: str, prom_starts: list[int], enh_starts: list[int]) -> bool:
    """Exactly the planted copies, and no other window one substitution away from a motif."""
    return (
        _hits(seq, PROM) == sorted(prom_starts)
        and _hits(seq, ENH) == sorted(enh_starts)
        and set(_near(seq, PROM)) == set(prom_starts)
        and set(_near(seq, ENH)) == set(enh_starts)
    )


def _activity(seq: str) -> float:
    prom = sum(positional_weight(s + 5, len(seq)) for s in _hits(seq, PROM))
    n_enh = len(_hits(seq, ENH))
    return (3 * law.P0 + prom) * (1.0 + law.B_K562 * n_enh)


def _positions(gen: _Gen, count: int, lo: int = 5, hi: int = CRS_LENGTH - 16) -> list[int]:
    while True:
        pos = sorted(int(p) for p in gen.rng.integers(lo, hi, count))
        if all(b - a >= 14 for a, b in zip(pos, pos[1:], strict=False)):
            return pos


def _make(gen: _Gen, items_fn) -> tuple[str, list[int], list[int]]:
    """A fragment from ``items_fn() -> [(start, motif-or-kmer, kind)]`` on a clean background."""
    while True:
        bg = gen.clean_background()
        items = items_fn()
        seq = _plant(bg, [(s, m) for s, m, _k in items])
        prom = [s for s, _m, k in items if k == "prom"]
        enh = [s for s, _m, k in items if k == "enh"]
        if _clean_after(seq, prom, enh) and TATA_LOCATOR not in revcomp(seq):
            return seq, prom, enh


def landing_pad_for(truth: dict[str, Any]) -> str:
    """Midpoint of the largest gap between consecutive planted TSSs (30-bp pad, 0-based half-open)."""
    best = None
    for chrom in truth["chromosomes"]:
        tss = sorted(g["tss_centre"] for g in truth["genes"] if g["chromosome"] == chrom)
        for a, b in zip(tss, tss[1:], strict=False):
            if best is None or (b - a) // 2 > best[0]:
                best = ((b - a) // 2, chrom, (a + b) // 2)
    if best is None or best[0] < MIN_TSS_DISTANCE:
        raise ValueError(f"demo genome: no place >= {MIN_TSS_DISTANCE} bp from every TSS for the landing pad")
    _, chrom, mid = best
    return f"{chrom}:{mid - 15}-{mid + 15}"


def _genbank(seq: str) -> str:
    lines = [
        f"LOCUS       SEQBENCH_PZDONOR_DEMO {len(seq)} bp    DNA     circular SYN 01-MAR-2023",
        "DEFINITION  Synthetic stand-in for pZDONOR EF1alpha Cherry ACTB GFP synthetic core promoter",
        "            library (Ns); seqbench demo, random sequence, no biology.",
        "FEATURES             Location/Qualifiers",
        "     misc_feature    complement(5317..5480)",
        '                     /label="CRS (rc)"',
        "     CDS             complement(4190..4909)",
        '                     /label="eGFP (rc)"',
    ]
    return format_genbank(lines, seq)


def _plasmid(gen: _Gen) -> str:
    n_start, n_end = 658 + 4658, 658 + 4822
    while True:
        s = gen.random_seq(PLASMID_LENGTH)
        s = s[:n_start] + "N" * (n_end - n_start) + s[n_end:]
        if not _hits(s, PROM) and not _hits(s, ENH):
            return s


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else repr(float(x))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    out = ["\t".join(columns)]
    out += ["\t".join(_fmt(v) if isinstance(v, float) else str(v) for v in r) for r in rows]
    return "\n".join(out) + "\n"


def generate(root: Path, landing_pad: str, seed: int = SEED) -> dict[str, Any]:
    """Write the Segal demo files under ``root / Data/Segal_promoter``; return the truth dict."""
    out = Path(root) / SEGAL_DIR
    out.mkdir(parents=True, exist_ok=True)
    noise = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 99])))
    oligos: list[tuple[int, str]] = []
    truth_oligos: dict[int, dict[str, Any]] = {}
    measured: dict[int, float] = {}

    def add(seq: str, prom: list[int], enh: list[int], role: str, index: int | None = None) -> int:
        idx = len(oligos) if index is None else index
        oligos.append((idx, seq))
        truth_oligos[idx] = {"role": role, "promoter_motif_starts": prom, "enhancer_motif_starts": enh}
        measured[idx] = _activity(seq) * math.exp(NOISE_SD * float(noise.standard_normal()))
        return idx

    def orient(g: _Gen) -> str:
        return PROM if g.rng.integers(0, 2) == 0 else revcomp(PROM)

    # native promoters: 0..3 promoter motifs at random positions and orientations
    g = _Gen(seed, 1)
    native = []
    for k in range(40):
        n = k % 4
        seq, prom, enh = _make(g, lambda n=n: [(p, orient(g), "prom") for p in _positions(g, n)])
        native.append(add(seq, prom, enh, "native"))
    measured[native[-1]] = math.nan  # one unmeasured oligo (dropped by the statistics)

    # PIC pairs: Rv = reverse complement of Fw; the first two Fw are native oligos
    g = _Gen(seed, 2)
    pic_rows = []
    for k in range(10):
        if k < 2:
            fw = native[k + 1]
            fw_seq = oligos[fw][1]
        else:
            n = 1 + k % 2
            fw_seq, prom, enh = _make(g, lambda n=n: [(p, orient(g), "prom") for p in _positions(g, n)])
            fw = add(fw_seq, prom, enh, "pic")
        rv_seq = revcomp(fw_seq)
        rv = add(rv_seq, _hits(rv_seq, PROM), _hits(rv_seq, ENH), "pic")
        pic_rows += [(fw, "Fw", f"TFIIB_{k}"), (rv, "Rv", f"TFIIB_{k}")]

    # core-promoter configurations: 3 backgrounds x 8; only the TATA (planted motif) has an effect
    g = _Gen(seed, 3)
    elements = {"BREu": (70, 7), "TATA": (86, 11), "BREd": (98, 7), "Int": (113, 7), "MTE": (135, 9), "DPE": (145, 6)}
    kmers = {e: g.clean_background(w) for e, (_s, w) in elements.items() if e != "TATA"}
    core_rows = []
    for bg_name in ("RPLP0_CE_bg", "HIV1_CE_bg", "C14orf166_CE_bg"):
        configs = []
        for config in range(8):
            present = {"TATA": bool(config & 1), "BREu": bool(config & 2), "Int": bool(config & 4)}
            for e in ("BREd", "MTE", "DPE"):
                present[e] = config == 7
            configs.append(present)
        while True:
            # the background (config 0) and every configuration carry the background's own promoter motif
            bg = _plant(g.clean_background(), [(CORE_BG_MOTIF_START, orient(g))])
            built = []
            for present in configs:
                items = [(elements[e][0], PROM if e == "TATA" else kmers[e]) for e in elements if present[e]]
                seq = _plant(bg, items)
                built.append((seq, [CORE_BG_MOTIF_START] + ([elements["TATA"][0]] if present["TATA"] else [])))
            if all(_clean_after(sq, pr, []) and TATA_LOCATOR not in revcomp(sq) for sq, pr in built):
                break
        for config, (present, (seq, prom)) in enumerate(zip(configs, built, strict=True)):
            idx = add(seq, prom, [], "core")
            pos = ["-" if not present[e] else str(elements[e][0] - TSS_IN_FRAGMENT) for e in elements]
            core_rows.append([idx, measured[idx], bg_name, config, *pos])

    # TATA shift: RPLP0 (with the CAT-box analogue) and HIV1
    g = _Gen(seed, 4)
    tata_rows = []
    for bg_name, positions, cat in (
        ("RPLP0_TATA_bg", list(range(-111, 30, 5)), True),
        ("HIV1_TATA_bg", list(range(-91, 30, 13)), False),
    ):
        while True:
            bg = g.clean_background()
            base = _plant(bg, [(CAT_BOX_START, PROM)]) if cat else bg
            seqs = [_plant(base, [(TSS_IN_FRAGMENT + t, PROM)]) for t in positions]
            ok = True
            for sq, t in zip(seqs, positions, strict=True):
                expect = {TSS_IN_FRAGMENT + t}
                if cat and sq[CAT_BOX_START : CAT_BOX_START + len(PROM)] == PROM:
                    expect.add(CAT_BOX_START)
                ok = ok and _clean_after(sq, sorted(expect), []) and TATA_LOCATOR not in revcomp(sq)
            if ok:
                break
        for s, t in zip(seqs, positions, strict=True):
            idx = add(s, _hits(s, PROM), [], "tata")
            tata_rows.append([idx, measured[idx], bg_name, t])

    # TF activity screen: 2 backgrounds x (background + 14 motifs: 4 promoter, 4 enhancer, 6 neutral)
    g = _Gen(seed, 5)
    neutral = [g.clean_background(10) for _ in range(6)]
    motif_specs = [(f"PLANTEDPROM_{k}", PROM, "prom", 20 + 30 * k) for k in range(4)]
    motif_specs += [(f"PLANTEDENH_{k}", ENH, "enh", 20 + 30 * k) for k in range(4)]
    motif_specs += [(f"NEUTRAL_{k}", neutral[k], "kmer", 15 + 22 * k) for k in range(6)]
    tf_rows = []
    for bg_name in ("C14orf166_TF_bg", "PSMD3_TF_bg"):
        bgp = [TF_BG_MOTIF_START]  # the background's own promoter motif, in every oligo of the background
        while True:
            bg = _plant(g.clean_background(), [(TF_BG_MOTIF_START, orient(g))])
            seqs = [bg] + [_plant(bg, [(p, m)]) for _n, m, _k, p in motif_specs]
            ok = _clean_after(bg, bgp, [])
            for s, (_n, _m, kind, p) in zip(seqs[1:], motif_specs, strict=True):
                ok = ok and _clean_after(s, bgp + ([p] if kind == "prom" else []), [p] if kind == "enh" else [])
            if ok:
                break
        idx = add(bg, bgp, [], "tf")
        tf_rows.append([idx, measured[idx], bg_name, "-"])
        for s, (name, _m, kind, p) in zip(seqs[1:], motif_specs, strict=True):
            idx = add(s, bgp + ([p] if kind == "prom" else []), [p] if kind == "enh" else [], "tf")
            tf_rows.append([idx, measured[idx], bg_name, name])

    # oligos in the library but in no set
    g = _Gen(seed, 6)
    for _ in range(5):
        add(g.clean_background(), [], [], "unused")

    # the authors' extra ISM background (oligo 12885, "DNAse_example"): in the library, in no set
    g = _Gen(seed, 8)
    seq, prom, enh = _make(g, lambda: [(s, orient(g) if k == "prom" else ENH, k) for s, k in DNASE_EXAMPLE_MOTIFS])
    add(seq, prom, enh, "dnase_example", index=DNASE_EXAMPLE_INDEX)

    plasmid = _plasmid(_Gen(seed, 7))
    _write(out / FILES["plasmid"], _genbank(plasmid))
    _write(out / FILES["oligos"], _table(["Oligo_index", "Oligo_sequence"], [[i, s] for i, s in oligos]))
    _write(
        out / FILES["native"],
        _table(
            ["Oligo_index", MEASURED, "CV(std/mean)", "Oligo_Sequence"],
            [[i, measured[i], 0.1, oligos[i][1]] for i in native],
        ),
    )
    _write(
        out / FILES["pic"],
        _table(
            ["Oligo_index", MEASURED, "CV(std/mean)", "Oligo_sequence", "CP_Orientation", "TFIIB_ID"],
            [[i, measured[i], 0.1, oligos[i][1], o, t] for i, o, t in pic_rows],
        ),
    )
    _write(
        out / FILES["core_configs"],
        _table(
            ["Oligo_index", MEASURED, "Background", "Configuration_summary", *(f"{e}_position" for e in elements)],
            core_rows,
        ),
    )
    _write(out / FILES["tata_shift"], _table(["Oligo_index", MEASURED, "Background", "TATA_position"], tata_rows))
    _write(out / FILES["tf_screen"], _table(["Oligo_index", MEASURED, "Background", "Motif_info"], tf_rows))
    truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "landing_pad": landing_pad,
        "tata_motif": TATA_LOCATOR,
        "tss_in_fragment": TSS_IN_FRAGMENT,
        "cat_box_start": CAT_BOX_START,
        "baseline_tata_position": BASELINE_TATA_POSITION,
        "background_ism_window": list(BACKGROUND_ISM_WINDOW),
        "conventions": "0-based fragment positions; a motif at s occupies [s, s+11); TATA_position = s - 116",
        "oligos": {str(k): v for k, v in truth_oligos.items()},
    }
    _write(out / TRUTH_NAME, json.dumps(truth, indent=1) + "\n")
    return truth


def ensure_promoter_mpra_demo(root: Path, seed: int = SEED) -> PromoterDemo:
    """The Segal demo files under ``root`` (a demo root with ``demo_truth.json``), built once."""
    root = Path(root)
    genome_truth = json.loads((root / "demo_truth.json").read_text())
    pad = landing_pad_for(genome_truth)
    truth_path = root / SEGAL_DIR / TRUTH_NAME
    try:
        truth = json.loads(truth_path.read_text())
        complete = (
            truth.get("format_version") == FORMAT_VERSION
            and truth.get("seed") == seed
            and truth.get("landing_pad") == pad
            and all((root / SEGAL_DIR / f).is_file() for f in FILES.values())
        )
    except (OSError, ValueError):
        complete = False
    if not complete:
        truth_path.unlink(missing_ok=True)
        generate(root, pad, seed)
    return PromoterDemo(root=root, landing_pad=pad, tata_motif=TATA_LOCATOR, truth=truth_path)


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic Segal tables + plasmid under ``data_root`` and three planted twins side
    by side (Enformer's, Basenji2's and Basenji1's interface and geometry), as the paper compares the models
    on this MPRA."""

    demo = ensure_promoter_mpra_demo(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "models": [{"kind": "planted"}, {"kind": "planted-basenji2"}, {"kind": "planted-basenji1"}],
        "tracks": {
            "cage": {"assay": "CAGE", "cell_type": "K562"},
            "dnase": {"assay": "DNASE", "cell_type": "K562"},
        },
        "inputs": {
            "landing_pad": demo.landing_pad,
            "tata_motif": demo.tata_motif,
            # the background ISM (every background the authors used) on a short window and one insert
            # type, so that the default stays cheap; the authors: whole fragment x 3 insert types
            "background_ism_insert_types": ["minimal"],
            "background_ism_start": BACKGROUND_ISM_WINDOW[0],
            "background_ism_end": BACKGROUND_ISM_WINDOW[1],
        },
    }
