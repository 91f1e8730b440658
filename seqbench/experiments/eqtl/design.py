"""GTEx fine-mapped eQTLs at the TSS (paper Fig. 6A/B; experiments-spec §7, the authors'
``prepare_gtex_eqtl_at_tss.py`` and ``EE.py:L6496-L6712``, ``L8412-L8710``).

Inputs and filters (§7.1)
-------------------------
The eQTL Catalogue SuSiE credible sets (one ``GTEx_ge_<tissue>*`` file per tissue;
:func:`seqbench.inputs.eqtl.read_credible_sets`, ``position`` 1-based, converted once to ``pos0``),
the canonical TSS table (``tss`` 1-based -> ``tss0``), the biomart export (strand, and every
protein-coding TSS for the "no alternative 5' TSS" rule).  The susie tissue (file stem minus
``GTEx_ge_``) becomes a GTEx tissue through ``inputs.tissue_map`` (TSV ``susie, gtex``) or, for a name
not in it, the GTEx tissue of the ridge matches with the same normalised name (``whole_blood`` ->
``Whole Blood``); a tissue with neither is refused.  Per variant, 0-based::

    tss_distance = pos0 - tss0,  end_distance = pos0 + len(ref) - 1 - tss0,
    crossing     = sign(tss_distance) != sign(end_distance)

and per block (``cs_id, gene_id, tissue``) a block is kept when all of: (1) 5' of the gene
(``strand != sign(min tss_distance)`` and both extreme distances have the same sign), (2) the gene
has no protein-coding TSS more than ``inputs.alt_tss_margin`` (128) bp 5' of its canonical one,
(3) ``max |tss_distance| < min(inputs.max_distance, L // 2)`` (95,000, or half the input of the
job's model: 65,536 for Basenji2), ``min |tss_distance| > 0``, no crossing variant, and
``max position - min position < inputs.max_block`` (5,000).  :func:`filter_blocks` returns every
variant with its block's figures and the first rule its block fails.

Constructs
----------
Kept variants are checked against the genome: a ``ref`` that is not the reference at
``[pos0, pos0 + len(ref))`` is skipped, logged and counted (``n_ref_mismatch``; the table
``eqtl_skipped_variants.tsv``), not fatal.  One **reference** construct per gene (the reference
window centred on the canonical TSS: the ref allele *is* the genome, so every variant of a gene
shares it) and one **alternative** construct per distinct (gene, variant): ``substitute(pos0, ref,
alt)`` with the TSS as the landmark and no ``window_start``, so the TSS sits at the model's anchor
(``L // 2``) whatever the indel length (the authors' ``insert_variant_centred_on_tss``: the flank on
the variant's side absorbs the length change).  A variant shared by several tissues or sets is
predicted once.  Constructs are built in the genome's + orientation (as the authors); the job's
ensemble (strand x shift) applies in full unless ``inputs.authors_no_revcomp`` (§13 B2), when the
reduce keeps only the + strand members (the authors' "rv" members were forward duplicates).

Tracks
------
:func:`extra_tracks` requests exactly the features of the ridge matches (``"<index>|<description>"``,
the index checked against the model's track table, the description compared), so the predictions'
columns are the matches' features.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import seqbench.experiments.eqtl.stats as stats
from seqbench.experiment import Design, MapFn, sequential_map
from seqbench.experiments.eqtl.stats import RULES
from seqbench.inputs import eqtl as eq
from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.models.base import Geometry, TrackError
from seqbench.sequence.constructs import Construct, substitute

log = logging.getLogger(__name__)

NAME = "eqtl"
TITLE = "GTEx fine-mapped eQTLs at the TSS: predicted vs measured effect by distance"

INPUTS: dict[str, Key] = {
    "credible_sets": Key(str, "Data/gtex_aFC/susie_credible_sets", "folder of eQTL Catalogue SuSiE credible"
                         " sets, one GTEx_ge_<tissue>*.txt.gz per tissue (position 1-based)"),
    "tss": Key(str, "Data/TSS_sim/only_protein_coding_ensembl_canonical_tss.tsv", "canonical TSS table (ts_id,"
               " gene_id, tss 1-based, chr)"),
    "biomart": Key(str, "Data/TSS_sim/bigly_tss_from_biomart.txt", "biomart TSS export (13 columns): strands and"
                   " every protein-coding TSS for the alternative-5'-TSS rule"),
    "ridge_matches": Key(str, "tables/gtex_ridge_matches.json", "a tissue-expression job's GTEx ridge matches"
                         " (JSON); --from TISSUE_JOB sets it"),
    "tissue_map": Key(str, "", "TSV (susie, gtex): susie tissue name -> GTEx tissue; names not in it match a"
                      " GTEx tissue of the ridge matches by normalised name ('' = that rule only)"),
    "gtex_pairs": Key(str, "", "folder of GTEx v8 *pairs.txt.gz (variant_id, gene_id, slope) for the observed"
                      " effects ('' to skip)"),
    "max_distance": Key(int, 95_000, "keep blocks with max |TSS distance| below this and below half the model's"
                        " input (bp)", min=1),
    "max_block": Key(int, 5_000, "keep blocks whose span (max - min position) is below this (bp)", min=1),
    "alt_tss_margin": Key(int, 128, "drop genes with a protein-coding TSS more than this 5' of the canonical"
                          " one (bp)", min=0),
    "far_distance": Key(int, 10_000, "the median of the strongest effects is also reported beyond this"
                        " distance (bp)", min=0),
    "authors_no_revcomp": Key(bool, False, "the authors' ensemble: forward members only (their 'rv' members"
                              " were forward duplicates, §13 B2)"),
}
PATH_INPUTS = {"credible_sets", "tss", "biomart", "ridge_matches", "tissue_map", "gtex_pairs"}
FROM_JOB = {"tissue-expression": {"ridge_matches": "tables/gtex_ridge_matches.json"}}



# ------------------------------------------------------------------------------------------ inputs


def resolve_tissues(susie: list[str], map_path: str, gtex: list[str]) -> dict[str, str]:
    """susie tissue -> GTEx tissue (module docstring); refuses a tissue that maps to nothing."""
    table = eq.read_tissue_map(Path(map_path)) if map_path else {}
    by_key = {eq.tissue_key(t): t for t in gtex}
    out = {}
    for s in susie:
        if s in table:
            out[s] = table[s]
        elif eq.tissue_key(s) in by_key:
            out[s] = by_key[eq.tissue_key(s)]
        else:
            where = map_path or "the ridge matches"
            raise InputError(f"{where}: susie tissue {s!r} ({eq.CREDIBLE_SET_PREFIX}{s}*) maps to no GTEx tissue of"
                             f" the ridge matches ({', '.join(gtex[:4])}, ...); expected a row 'susie gtex' in"
                             " inputs.tissue_map")
        if out[s] not in gtex:
            raise InputError(f"{map_path}: susie tissue {s!r} maps to {out[s]!r}, which has no ridge match; expected"
                             f" one of {', '.join(gtex[:4])}, ...")
    return out


def filter_blocks(variants: pd.DataFrame, canonical: pd.DataFrame, every_tss: pd.DataFrame, *,
                  max_distance: int, max_block: int, alt_tss_margin: int) -> pd.DataFrame:
    """Every variant whose gene has a canonical TSS, with its distances, its block's figures and ``fails``
    (the first rule of :data:`RULES` its block fails, ``""`` when kept).  ``variants`` needs ``gene_id,
    cs_id, tissue, pos0, position, ref``; ``canonical``: ``gene_id, chrom, tss0, strand`` (``+``/``-``);
    ``every_tss``: ``gene_id, tss0`` of every protein-coding transcript.  Distances in bp, 0-based."""
    v = variants.merge(canonical[["gene_id", "tss0", "strand"]], on="gene_id", how="inner")
    sign_strand = np.where(v["strand"] == "+", 1, -1)
    v["Strand"] = sign_strand
    v["tss"] = v["tss0"]
    v["tss_distance"] = v["pos0"] - v["tss0"]
    v["end_distance"] = v["pos0"] + v["ref"].str.len() - 1 - v["tss0"]
    v["crossing"] = np.sign(v["tss_distance"]) != np.sign(v["end_distance"])
    v["abs_tss_distance"] = v["tss_distance"].abs()
    g = v.groupby(["cs_id", "gene_id", "tissue"], sort=False)
    v["tss_distance_min"] = g["tss_distance"].transform("min")
    v["tss_distance_max"] = g["tss_distance"].transform("max")
    v["abs_tss_distance_max"] = g["abs_tss_distance"].transform("max")
    v["abs_tss_distance_min"] = g["abs_tss_distance"].transform("min")
    v["abs_tss_distance_mean"] = g["abs_tss_distance"].transform("mean")
    v["any_crossing"] = g["crossing"].transform("any")
    v["block_size"] = g["position"].transform("max") - g["position"].transform("min")
    sign_min, sign_max = np.sign(v["tss_distance_min"]), np.sign(v["tss_distance_max"])
    # genes with a protein-coding TSS more than alt_tss_margin bp 5' of the canonical one
    t = every_tss[["gene_id", "tss0"]].rename(columns={"tss0": "other"}).merge(
        canonical[["gene_id", "tss0", "strand"]], on="gene_id")
    five = np.where(t["strand"] == "+", t["tss0"] - t["other"], t["other"] - t["tss0"])
    unclear = set(t.loc[five > alt_tss_margin, "gene_id"])
    rules = {
        "not_5prime": ~((sign_strand != sign_min) & (sign_min == sign_max)),
        "alternative_5prime_tss": v["gene_id"].isin(unclear),
        "too_far": ~(v["abs_tss_distance_max"] < max_distance),
        "at_tss": ~(v["abs_tss_distance_min"] > 0),
        "crossing": v["any_crossing"],
        "block_too_large": ~(v["block_size"] < max_block),
    }
    fails = pd.Series("", index=v.index, dtype=object)
    for name in reversed(RULES):
        fails = fails.where(~rules[name].to_numpy(), name)
    v["fails"] = fails
    return v.drop(columns=["any_crossing"])


@dataclass
class Planned:
    """What planning found: every variant with its filter outcome, the kept and ref-checked variants, the
    skipped ones, and the inputs the reduce needs."""

    table: pd.DataFrame  # every variant with a canonical TSS, with filter columns
    kept: pd.DataFrame  # kept blocks' variants whose ref matches the genome
    skipped: pd.DataFrame  # kept blocks' variants whose ref does not
    n_no_tss: int  # variants whose gene has no canonical TSS
    features: list[str]
    matches: dict[str, Any]
    max_distance: int


def distance_cap(spec, geometry: Geometry) -> int:
    """``min(inputs.max_distance, L // 2)`` (bp) over the job's models: the variant must lie in every
    model's input (``geometry`` is the first model's; the others' declared geometries are in the spec)."""
    lengths = [geometry.sequence_length]
    for m in getattr(spec, "models", ()) or ():
        g = m.declared_geometry
        if g is not None:
            lengths.append(g.sequence_length)
    return int(min(spec.inputs["max_distance"], min(lengths) // 2))


def plan(spec, genome, max_distance: int) -> Planned:
    """Read and check every input, filter the blocks, check the ref alleles (module docstring)."""
    features, matches = eq.read_ridge_matches(Path(spec.inputs["ridge_matches"]))
    variants = eq.read_credible_sets(Path(spec.inputs["credible_sets"]))
    canonical = eq.read_canonical_tss(Path(spec.inputs["tss"]))
    bm_canonical, every = eq.read_protein_coding_tss(Path(spec.inputs["biomart"]))
    strand = dict(zip(bm_canonical["gene_id"].map(eq.strip_version), bm_canonical["strand"], strict=False))
    canonical["strand"] = canonical["gene_id"].map(strand)
    missing = canonical["strand"].isna()
    if missing.any():  # a canonical gene absent from biomart: the strand of any of its transcripts
        any_strand = every.drop_duplicates("gene_id").set_index("gene_id")["strand"]
        canonical.loc[missing, "strand"] = canonical.loc[missing, "gene_id"].map(any_strand)
    canonical = canonical.dropna(subset=["strand"])
    tissues = resolve_tissues(sorted(variants["susie_tissue"].unique()), spec.inputs["tissue_map"], list(matches))
    variants["tissue"] = variants["susie_tissue"].map(tissues)
    table = filter_blocks(variants, canonical, every, max_distance=max_distance,
                          max_block=int(spec.inputs["max_block"]), alt_tss_margin=int(spec.inputs["alt_tss_margin"]))
    n_no_tss = len(variants) - len(table)
    kept = table[table["fails"] == ""].copy()
    ok = np.ones(len(kept), dtype=bool)
    genome_ref = []
    if genome is not None:
        for k, (chrom, pos0, ref, f, row) in enumerate(zip(kept["chrom"], kept["pos0"], kept["ref"], kept["file"],
                                                           kept["row"], strict=True)):
            if chrom not in genome:
                raise InputError(f"{f}: row {row}, column 'chromosome': {chrom} is not in the FASTA {spec.fasta};"
                                 " expected the genome the credible sets are on")
            got = genome.fetch_str(chrom, int(pos0), int(pos0) + len(ref))
            genome_ref.append(got)
            if got != ref:
                ok[k] = False
                log.warning("%s: row %s: ref %r at %s:%d (1-based) but the genome has %r; variant skipped",
                            f, row, ref, chrom, pos0 + 1, got)
    else:
        genome_ref = list(kept["ref"])
    kept["genome_ref"] = genome_ref
    skipped = kept.loc[~ok].assign(reason="ref_mismatch").reset_index(drop=True)
    kept = kept.loc[ok].reset_index(drop=True)
    return Planned(table, kept, skipped, n_no_tss, features, matches, max_distance)


# ------------------------------------------------------------------------------------------ design


@dataclass(frozen=True)
class EqtlBuilder:
    """Construct ``i``: reference window centred on ``tss0[i]``, with the variant when ``ref[i]`` is set
    (picklable)."""

    keys: tuple[str, ...]
    chroms: tuple[str, ...]
    tss0: tuple[int, ...]
    pos0: tuple[int, ...]
    ref: tuple[str, ...]
    alt: tuple[str, ...]

    def __call__(self, construct_id: int) -> Construct:
        i = int(construct_id)
        edits = (substitute(self.pos0[i], self.ref[i], self.alt[i]),) if self.ref[i] else ()
        return Construct(key=self.keys[i], chrom=self.chroms[i], landmark=self.tss0[i], edits=edits)


def design_table(kept: pd.DataFrame) -> pd.DataFrame:
    """One ``ref`` construct per gene, then one ``alt`` construct per distinct (gene, variant), in
    (chromosome, TSS, position) order."""
    genes = kept.drop_duplicates("gene_id").sort_values(["chrom", "tss0", "gene_id"], kind="stable")
    ref = pd.DataFrame({"key": genes["gene_id"] + "|ref", "gene_id": genes["gene_id"], "chrom": genes["chrom"],
                        "tss0": genes["tss0"], "allele": "ref", "variant_id": "", "pos0": -1, "ref": "", "alt": ""})
    vs = kept.drop_duplicates(["gene_id", "chrom", "pos0", "ref", "alt"]).sort_values(
        ["chrom", "tss0", "gene_id", "pos0", "ref", "alt"], kind="stable")
    alt = pd.DataFrame({"key": vs["gene_id"] + "|" + vs["chrom"] + ":" + (vs["pos0"] + 1).astype(str) + ":"
                        + vs["ref"] + ">" + vs["alt"],
                        "gene_id": vs["gene_id"], "chrom": vs["chrom"], "tss0": vs["tss0"], "allele": "alt",
                        "variant_id": vs["variant_id"], "pos0": vs["pos0"], "ref": vs["ref"], "alt": vs["alt"]})
    table = pd.concat([ref, alt], ignore_index=True)
    table.insert(0, "construct_id", np.arange(len(table), dtype=np.int64))
    table["tss0"] = table["tss0"].astype(np.int64)
    table["pos0"] = table["pos0"].astype(np.int64)
    return table


def expand(spec, genome, geometry: Geometry) -> Design:
    """Plan (every input checked, filters, ref checks), then the constructs (module docstring)."""
    planned = plan(spec, genome, distance_cap(spec, geometry))
    if planned.kept.empty:
        raise InputError(f"{spec.inputs['credible_sets']}: no credible-set variant passes the filters (§7.1) and the"
                         " ref check; expected at least one")
    table = design_table(planned.kept)
    table["max_distance"] = planned.max_distance
    builder = EqtlBuilder(tuple(table["key"]), tuple(table["chrom"]), tuple(int(t) for t in table["tss0"]),
                          tuple(int(p) for p in table["pos0"]), tuple(table["ref"]), tuple(table["alt"]))
    return Design(table=table, build=builder)


def extra_tracks(spec, track_table) -> dict[str, int]:
    """The ridge matches' features, ``"<index>|<description>"``, each checked against this model's table."""
    features, _ = eq.read_ridge_matches(Path(spec.inputs["ridge_matches"]))
    f = track_table.frame
    desc = dict(zip(f["index"].astype(int), f["description"].astype(str), strict=True))
    out = {}
    for label in features:
        head, _, description = label.partition("|")
        if not head.strip().isdigit():
            raise TrackError(f"{spec.inputs['ridge_matches']}: feature {label!r}; expected"
                             " '<track index>|<description>'")
        index = int(head)
        if index not in desc:
            raise TrackError(f"{spec.inputs['ridge_matches']}: feature {label!r}: this model has no track {index};"
                             " expected the model the tissue-expression job used")
        if desc[index] != description:
            raise TrackError(f"{spec.inputs['ridge_matches']}: feature {label!r}: track {index} of this model is"
                             f" {desc[index]!r}; expected the model the tissue-expression job used")
        out[label] = index
    return out


def summary_extra(spec) -> dict[str, Any]:
    return {"filtered_table": "tables/susie_df_small_blocks.tsv"}


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Every statistic (see :mod:`seqbench.experiments.eqtl.stats`)."""
    from seqbench.genome import Genome

    genome = Genome(spec.fasta) if getattr(spec, "fasta", None) else None
    cap = int(design["max_distance"].iloc[0]) if len(design) else int(spec.inputs["max_distance"])
    planned = plan(spec, genome, cap)
    if spec.inputs["authors_no_revcomp"]:
        members = spec.ensemble.members
        forward = [m for m, (strand, _shift) in enumerate(members) if strand == "+"]
        predictions = predictions[predictions["member"].isin(forward)]
    pairs = eq.read_pairs(Path(spec.inputs["gtex_pairs"])) if spec.inputs["gtex_pairs"] else None
    return stats.analyse(predictions, design, planned, pairs, far_distance=int(spec.inputs["far_distance"]))

