"""The embedded default of tissue-expression: a synthetic expression archive over its own genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.tissue_expression.design import NAME

#: the windows of the demo's ablation (bp; 0 = the whole input): a few of the paper's, to stay quick
DEMO_WINDOWS = [1001, 12501, 65537, 0]


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the planted model (its two CAGE tracks are the features) beside the planted
    Basenji2 twin (in-genome only, the ablation's reference), over the synthetic archive of
    :mod:`seqbench.demo.expression` (GTEx-like tissues and Cardoso-Moreira-like samples whose expression
    the planted tracks set through known weights plus noise)."""
    from seqbench.demo.expression import ensure_expression_inputs

    ensure_expression_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "genome": {"fasta": "Data/TSS_sim/genome.fa"},
        "models": [
            {"kind": "planted", "windows": DEMO_WINDOWS},
            {"kind": "planted-basenji2", "windows": [0]},
        ],
        "inputs": {
            "gtf": "Data/TSS_sim/genes.gtf",
            "exon_intron": "Data/GTEX/genomic_sequence_plus_features_hl_all_tissues.csv",
            "gene2transcript": "Data/GTEX/gene2transcript.txt",
            "xpresso_predictions": "Results/TSS_Xpresso/xpresso_preds.tsv",
            "manual_keywords": "Data/TSS_sim/manual_keywords.toml",
        },
    }
