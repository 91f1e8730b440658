"""Endogenous expression across tissues (paper Fig. 2A-D and 3A; experiments-spec §1, the authors'
``prepare_tss_sim.py`` and ``EE.py:L6310-L8411``).

Constructs
----------
One per canonical protein-coding transcript of the biomart export (:func:`read_biomart_tss`): the
reference window centred on its TSS (0-based ``tss0``, the landmark), read on the gene's strand
(``Construct.strand``: an anchored model such as Xpresso reads the gene's own strand; Enformer-like
models average both).  Transcripts are taken in (chromosome, TSS) order, so neighbouring constructs
share genome blocks; ``inputs.max_genes`` keeps the first N.  This is the authors' ``ingenome``
sample; their restricted windows (1,001 ... 131,073 bp around the TSS, the rest N) are the job's
receptive-field windows, ``ensemble.windows`` (and a ``[[models]]`` entry's own ``windows``), so that
one materialised window serves every width and each width is reduced on its own.

Tracks
------
:func:`extra_tracks` takes, from each model's own track table, every track whose description contains
``inputs.feature_assay`` ("CAGE", case-sensitive as the authors' column filter) except those naming one
of ``inputs.exclude_tracks`` (the three universal-RNA tracks): 635 features on Enformer and Basenji2.
A model without such tracks and exactly one output (Xpresso) gives that one.  Labels are
``"<index>|<description>"``, so the statistics know each feature's description (manual matching).
The readout is the 3-bin landmark sum averaged over the ensemble in natural scale, then
``log10(x + 1)``.

Reduce: see :mod:`seqbench.experiments.tissue_expression.stats`; across variants (models, windows):
:mod:`seqbench.experiments.tissue_expression.combine`.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import seqbench.experiments.tissue_expression.stats as stats
from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs import expression as ex
from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.models.base import Geometry, TrackError
from seqbench.sequence.constructs import Construct

NAME = "tissue-expression"
TITLE = "Endogenous expression across tissues: ridge-matched CAGE tracks vs GTEx and Cardoso-Moreira"

#: the authors' universal-RNA CAGE tracks, excluded from every expression regression (``EE.py:L6872``)
UNIVERSAL_RNA = (
    "Clontech Human Universal Reference Total RNA",
    "SABiosciences XpressRef Human Universal Total RNA",
    "CAGE:Universal RNA - Human Normal Tissues Biochain",
)
#: the paper's windows (bp) of the ablation, experiments-spec §1.2 and §14
PAPER_WINDOWS = (1001, 3001, 12501, 34501, 39321, 49153, 65537, 98305, 131073)

INPUTS: dict[str, Key] = {
    "tss": Key(str, "Data/TSS_sim/bigly_tss_from_biomart.txt", "biomart TSS export (13 columns, header; §1.1)"),
    "gtf": Key(str, "Data/Genome/genes.gtf", "GENCODE GTF (gene spans for the split, chrY/chrM filter, exon"
               " lengths); .gz accepted"),
    "regions": Key(str, "Data/GTEX/human_regions.bed", "Basenji2/Enformer regions BED (Chromosome Start End set)"),
    "gtex": Key(str, "Data/GTEX/GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_median_tpm.gct",
                "GTEx median TPM .gct, with or without its two preamble lines ('' to skip GTEx)"),
    "kaessmann": Key(str, "Data/Kaessmann/Human.RPKM.txt", "Cardoso-Moreira Human.RPKM.txt ('' to skip)"),
    "exon_intron": Key(str, "", "exon-intron ratio table genomic_sequence_plus_features_hl_all_tissues.csv"
                       " ('' to skip the add-on)"),
    "gene2transcript": Key(str, "", "gene2transcript.txt (Gene stable ID, Transcript stable ID) for exon_intron"),
    "xpresso_predictions": Key(str, "", "Xpresso TSS predictions xpresso_preds.tsv (gene_id, Prediction); ''"
                               " to skip the add-on"),
    "manual_keywords": Key(str, "", "TOML of keywords per GTEx tissue ([gtex]) and Cardoso-Moreira organ"
                           " ([kaessmann]) for the training-free matching ('' to skip)"),
    "feature_assay": Key(str, "CAGE", "features: the tracks whose description contains this (case-sensitive)"),
    "exclude_tracks": Key(list, list(UNIVERSAL_RNA), "features: drop tracks whose description contains any of"
                          " these (the universal-RNA CAGE tracks)", item=str),
    "differential_threshold": Key((int, float), 1.0, "differential call: |deviation from the gene mean| above"
                                  " this (log2; main notebook 1, manual match 1.15)", min=0),
    "ablation_reference": Key(str, "", "variant whose metrics the window ablation subtracts (default: the first"
                              " model without windows, e.g. Basenji2, when another has windows)"),
    "max_genes": Key(int, 0, "use only the first N canonical transcripts in (chromosome, TSS) order (0: all)",
                     min=0),
    "skip_missing_contigs": Key(bool, False, "skip (and count) TSSs on contigs the FASTA lacks instead of"
                                " refusing the job"),
}
PATH_INPUTS = {"tss", "gtf", "regions", "gtex", "kaessmann", "exon_intron", "gene2transcript",
               "xpresso_predictions", "manual_keywords"}


@dataclass(frozen=True)
class TssBuilder:
    """Construct ``i``: transcript ``keys[i]``'s reference window centred on ``tss0[i]`` (picklable)."""

    keys: tuple[str, ...]
    chroms: tuple[str, ...]
    tss0: tuple[int, ...]
    strands: tuple[str, ...]

    def __call__(self, construct_id: int) -> Construct:
        i = int(construct_id)
        return Construct(key=self.keys[i], chrom=self.chroms[i], landmark=self.tss0[i], strand=self.strands[i])


def transcripts(spec, genome=None) -> tuple[pd.DataFrame, int]:
    """The canonical transcripts of the job in (chromosome, TSS) order and the number skipped because their
    contig is not in the FASTA (only with ``inputs.skip_missing_contigs``; else such a TSS is refused)."""
    path = Path(spec.inputs["tss"])
    tx = ex.read_biomart_tss(path).sort_values(["chrom", "tss0", "ts_id"], kind="stable").reset_index(drop=True)
    skipped = 0
    if genome is not None:
        lengths = genome.lengths
        missing = ~tx["chrom"].isin(list(lengths))
        if missing.any():
            if not spec.inputs["skip_missing_contigs"]:
                r = tx.loc[missing].iloc[0]
                have = ", ".join(list(lengths)[:6]) + (", ..." if len(lengths) > 6 else "")
                raise InputError(
                    f"{path}: transcript {r.ts_id} ({r.gene_name}) is on {r.chrom}, which the FASTA {spec.fasta}"
                    f" lacks ({int(missing.sum())} TSSs in all); expected contigs of the FASTA ({have}), or set"
                    " inputs.skip_missing_contigs = true"
                )
            skipped = int(missing.sum())
            tx = tx.loc[~missing].reset_index(drop=True)
        beyond = tx["tss0"].to_numpy() >= tx["chrom"].map(lengths).to_numpy()
        if beyond.any():
            r = tx.loc[beyond].iloc[0]
            raise InputError(f"{path}: transcript {r.ts_id}: TSS {r.tss0 + 1} (1-based) lies beyond the end of"
                             f" {r.chrom} ({lengths[r.chrom]:,} bp in {spec.fasta}); expected the same assembly")
    if spec.inputs["max_genes"]:
        tx = tx.iloc[: spec.inputs["max_genes"]].reset_index(drop=True)
    if tx.empty:
        raise InputError(f"{path}: no canonical protein-coding transcript left to predict")
    return tx, skipped


def check_inputs(spec) -> None:
    """Read every input the reduce reads, at planning: a bad file is refused before any forward pass
    (the readers are cached per file, so the reduce in the same process reads them again for free)."""
    genes, exons = read_gtf(Path(spec.inputs["gtf"]))
    load_split(spec, genes)
    if not spec.inputs["gtex"] and not spec.inputs["kaessmann"]:
        raise InputError(f"{spec.source}: inputs.gtex and inputs.kaessmann are both ''; expected at least one")
    loaded = {kind: load_dataset(kind, Path(spec.inputs[kind]), genes) for kind in stats.DATASETS
              if spec.inputs[kind]}
    tissues = list(loaded["gtex"].observed.columns) if "gtex" in loaded else None
    load_extras(spec, genes, exons, [], tissues)


def expand(spec, genome, geometry: Geometry) -> Design:
    """One construct per canonical transcript (see the module docstring); every input is checked first."""
    check_inputs(spec)
    tx, _skipped = transcripts(spec, genome)
    n = len(tx)
    table = pd.DataFrame({
        "construct_id": np.arange(n, dtype=np.int64),
        "key": tx["ts_id"].astype(str).to_numpy(),
        "gene_id": tx["gene_id"].astype(str).to_numpy(),
        "gene_name": tx["gene_name"].astype(str).to_numpy(),
        "chrom": tx["chrom"].astype(str).to_numpy(),
        "tss0": tx["tss0"].to_numpy(np.int64),
        "strand": tx["strand"].astype(str).to_numpy(),
    })
    builder = TssBuilder(tuple(table["key"]), tuple(table["chrom"]), tuple(int(t) for t in table["tss0"]),
                         tuple(table["strand"]))
    return Design(table=table, build=builder)


def track_label(index: int, description: str) -> str:
    """A feature's label: ``"<index>|<description>"``."""
    return f"{int(index)}|{description}"


def label_description(label: str) -> str:
    """The description part of a :func:`track_label`."""
    return label.split("|", 1)[1] if "|" in label else label


def extra_tracks(spec, track_table) -> dict[str, int]:
    """The feature tracks of this model (module docstring)."""
    f = track_table.frame
    assay = spec.inputs["feature_assay"]
    desc = f["description"].astype(str)
    keep = desc.str.contains(assay, regex=False)
    for bad in spec.inputs["exclude_tracks"]:
        keep &= ~desc.str.contains(bad, regex=False)
    chosen = f[keep]
    if chosen.empty:
        if len(f) == 1:  # a scalar model (Xpresso): its one output is the feature
            chosen = f
        else:
            raise TrackError(
                f"{spec.source}: no track description of this model contains {assay!r} (inputs.feature_assay);"
                f" expected {assay} tracks, or a model with one output (for Enformer give model.targets ="
                " targets_human.txt)"
            )
    return {track_label(i, d): int(i) for i, d in zip(chosen["index"], chosen["description"], strict=True)}


# ----------------------------------------------------------------------------------------- the inputs


def _stamp(path: Path) -> tuple[str, int, int]:
    st = Path(path).stat()
    return (str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _gtf_cached(stamp: tuple[str, int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    genes, exons = ex.read_gtf(Path(stamp[0]))
    return genes, exons


def read_gtf(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes and exons of the GTF, read once per process (a job reduces one variant after another)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: GTF not found; expected the GENCODE GTF (inputs.gtf)")
    return _gtf_cached(_stamp(path))


@functools.lru_cache(maxsize=8)
def _observed_cached(kind: str, stamp: tuple[str, int, int]) -> tuple[pd.DataFrame, dict[str, int]]:
    path = Path(stamp[0])
    if kind == "gtex":
        tidy, counts = ex.tidy_gtex(ex.read_gct(path))
        tidy = tidy.rename(columns={"tissue": "condition"})
        tidy["organ"] = None
        tidy["stage"] = None
        return tidy, counts
    tidy = ex.read_kaessmann_rpkm(path)
    tidy, zero = ex.drop_unexpressed(tidy)
    return tidy.rename(columns={"sample": "condition"}), {"all_zero": zero}


def load_dataset(kind: str, path: Path, genes: pd.DataFrame) -> stats.Dataset:
    """GTEx or Cardoso-Moreira after the authors' filters, genes on chrY and chrM dropped (from the GTF)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: not found; expected the {'GTEx .gct' if kind == 'gtex' else 'Human.RPKM.txt'}"
                         f" (inputs.{kind}, '' to skip it)")
    tidy, counts = _observed_cached(kind, _stamp(path))
    sex_mito = set(genes.loc[genes["chrom"].isin(["chrY", "chrM"]), "gene_id"])
    drop = tidy["gene_id"].isin(sex_mito)
    dropped = {**counts, "chrY_chrM": int(tidy.loc[drop, "gene_id"].nunique())}
    tidy = tidy.loc[~drop]
    conditions = tidy.drop_duplicates("condition")[["condition", "organ", "stage"]].reset_index(drop=True)
    wide = tidy.pivot(index="gene_id", columns="condition", values="observed")
    wide = np.log10(wide[list(conditions["condition"])].astype(np.float64) + 1.0).sort_index()
    if wide.isna().any().any():
        col = wide.columns[wide.isna().any()][0]
        raise InputError(f"{path}: condition {col!r} lacks a value for some genes; expected a full genes x"
                         " conditions table")
    return stats.Dataset(kind, wide, conditions, dropped)


def load_split(spec, genes: pd.DataFrame) -> tuple[pd.Series, int]:
    """``gene_id -> train/test`` by the authors' rule (strict inequalities) and the number of genes dropped."""
    regions = ex.read_regions_bed(Path(spec.inputs["regions"]))
    g = genes.drop_duplicates("gene_id").reset_index(drop=True)
    split = ex.split_train_test(g[["gene_id", "chrom", "start", "end"]], regions)
    split.index = g["gene_id"].to_numpy()
    kept = split.dropna()
    return kept.astype(str), int(split.isna().sum())


def load_extras(spec, genes: pd.DataFrame, exons: pd.DataFrame, features: list[str],
                tissues: list[str] | None = None) -> stats.Extras:
    """The optional add-on inputs (absent ones stay None); ``tissues``: the GTEx tissues of the job."""
    extras = stats.Extras()
    if spec.inputs["exon_intron"]:
        if not spec.inputs["gene2transcript"]:
            raise InputError(f"{spec.source}: inputs.exon_intron needs inputs.gene2transcript (the transcript ->"
                             " gene table)")
        extras.exon_intron = exon_intron_by_gene(Path(spec.inputs["exon_intron"]),
                                                 Path(spec.inputs["gene2transcript"]), tissues)
    if spec.inputs["xpresso_predictions"]:
        extras.xpresso = read_xpresso(Path(spec.inputs["xpresso_predictions"]))
        lengths = ex.gene_lengths(exons)
        extras.log_len = np.log10(lengths)
    if spec.inputs["manual_keywords"]:
        extras.manual = manual_features(Path(spec.inputs["manual_keywords"]), features)
    return extras


def read_xpresso(path: Path) -> pd.Series:
    """``xpresso_preds.tsv``: ``gene_id`` (version stripped) -> ``Prediction`` (the model's log10 output)."""
    from seqbench.inputs.tables import read_table

    frame = read_table(path, ("gene_id", "Prediction"), what="Xpresso predictions")
    values = pd.to_numeric(frame["Prediction"], errors="coerce")
    if values.isna().any():
        i = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(f"{path}: row {i + 1}, column 'Prediction': {frame['Prediction'].iloc[i]!r}; expected a"
                         " number")
    ids = frame["gene_id"].astype(str).map(ex.strip_version)
    return pd.Series(values.to_numpy(np.float64), index=ids.to_numpy()).groupby(level=0).mean()


def exon_intron_by_gene(path: Path, g2t: Path, tissues: list[str] | None = None) -> pd.DataFrame:
    """The exon-intron ratio per gene and GTEx tissue as the authors process it (§1.4 item 6): transcript ->
    gene; a missing value takes its row's median; mean per (gene, tissue); the tissue mean subtracted; what
    is still missing -> 0.  Columns keep the file's ``_``-style tissue names.  With ``tissues`` (GTEx
    names), only the columns naming one of them (:func:`stats.tissue_key`) are kept, so that other
    numeric columns of the file (sequence features) never enter a row's median."""
    from seqbench.inputs.tables import read_table

    frame = read_table(path, (), what="exon-intron ratio table", sep=",")
    if frame.shape[1] < 2:
        raise InputError(f"{path}: {frame.shape[1]} column(s); expected a transcript id, then one column per"
                         " tissue")
    tx = frame.iloc[:, 0].astype(str).map(ex.strip_version)
    values = frame.iloc[:, 1:].apply(pd.to_numeric, errors="coerce")
    numeric = [c for c in values.columns if values[c].notna().any()]
    if tissues is not None:
        keys = {stats.tissue_key(t) for t in tissues}
        numeric = [c for c in numeric if stats.tissue_key(c) in keys]
        if not numeric:
            raise InputError(f"{path}: no column names a GTEx tissue of the job ({', '.join(tissues[:3])}, ...);"
                             " expected one ratio column per tissue, '_'-style (Whole_Blood)")
    values = values[numeric]
    values = values.apply(lambda row: row.fillna(row.median()), axis=1)
    mapping = read_table(g2t, ("Gene stable ID", "Transcript stable ID"), what="gene2transcript table")
    to_gene = dict(zip(mapping["Transcript stable ID"].astype(str).map(ex.strip_version),
                       mapping["Gene stable ID"].astype(str).map(ex.strip_version), strict=True))
    genes = tx.map(to_gene)
    values.index = genes.to_numpy()
    values = values.loc[genes.notna().to_numpy()]
    per_gene = values.groupby(level=0).mean()
    per_gene = per_gene - per_gene.mean(axis=0)
    return per_gene.fillna(0.0)


def manual_features(path: Path, features: list[str]) -> dict[str, dict[str, list[str]]]:
    """The keyword matching table: ``{dataset: {tissue or organ: [feature labels]}}``.

    The TOML holds ``[gtex]`` (GTEx tissue -> keywords) and ``[kaessmann]`` (organ -> keywords); a
    feature matches when its description contains one of the keywords (case-insensitive) and "CAGE"."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manual keywords ({exc}); expected TOML with [gtex] and"
                         " [kaessmann] tables of name = [keywords]") from exc
    out: dict[str, dict[str, list[str]]] = {}
    for dataset, table in raw.items():
        if dataset not in stats.DATASETS or not isinstance(table, dict):
            raise InputError(f"{path}: [{dataset}]; expected the tables [gtex] and [kaessmann]")
        out[dataset] = {}
        for name, words in table.items():
            if isinstance(words, str):
                words = [words]
            if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                raise InputError(f"{path}: {dataset}.{name} = {words!r}; expected a list of keywords")
            low = [w.lower() for w in words]
            out[dataset][name] = [f for f in features if "cage" in label_description(f).lower()
                                  and any(w in label_description(f).lower() for w in low)]
    return out


# --------------------------------------------------------------------------------------------- reduce


def gene_features(predictions: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """``log10(pred + 1)`` per gene (index ``gene_id``): member means per transcript (natural scale), the
    mean over a gene's transcripts, then the log."""
    cols = [c for c in predictions.columns if c not in ("construct_id", "member", "landmark_bin")]
    if not cols:
        raise InputError("tissue-expression: the predictions hold no feature track")
    means = construct_means(predictions, design, cols, labels=["gene_id"])
    per_gene = means.groupby("gene_id", sort=True)[cols].mean()
    return np.log10(per_gene.astype(np.float64) + 1.0)


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Every statistic of one variant (see :mod:`seqbench.experiments.tissue_expression.stats`)."""
    features = gene_features(predictions, design)
    genes, exons = read_gtf(Path(spec.inputs["gtf"]))
    split, n_dropped = load_split(spec, genes)
    split = split[split.index.isin(features.index)]
    loaded = {kind: load_dataset(kind, Path(spec.inputs[kind]), genes) for kind in stats.DATASETS
              if spec.inputs[kind]}
    tissues = list(loaded["gtex"].observed.columns) if "gtex" in loaded else None
    extras = load_extras(spec, genes, exons, list(features.columns), tissues)
    datasets = {}
    for kind, data in loaded.items():
        datasets[kind] = stats.analyse_dataset(
            data, features, split, map_fn=map_fn, extras=extras,
            differential_threshold=float(spec.inputs["differential_threshold"]))
    if not datasets:
        raise InputError(f"{spec.source}: inputs.gtex and inputs.kaessmann are both ''; expected at least one")
    predicted = features.index[features.notna().all(axis=1)]
    return stats.ExpressionResults(list(features.columns), split, datasets, len(predicted),
                                   int(n_dropped), float(spec.inputs["differential_threshold"]))


def summary_extra(spec) -> dict[str, Any]:
    """Where the fitted matches lie (``--from`` of the eQTL experiment reads them)."""
    return {"ridge_matches": ", ".join(f"tables/{d}_ridge_matches.json" for d in stats.DATASETS
                                       if spec.inputs.get(d))}

