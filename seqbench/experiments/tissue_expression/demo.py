"""The embedded default of tissue-expression: a synthetic expression archive over its own genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.tissue_expression.design import NAME
from seqbench.files import write_if_changed

#: training-free matching of the demo: which planted CAGE track stands for which tissue or organ
MANUAL_KEYWORDS = Path("Data/TSS_sim/manual_keywords.toml")
MANUAL_KEYWORDS_TEXT = """\
# keywords per GTEx tissue ([gtex]) and Cardoso-Moreira organ ([kaessmann]), matched case-insensitively
# in the descriptions of the model's CAGE tracks (the planted model has K562 and HepG2 CAGE)
[gtex]
"Liver" = ["hepg2"]
"Cells - EBV-transformed lymphocytes" = ["k562"]
"Whole Blood" = ["k562"]

[kaessmann]
Liver = ["hepg2"]
Brain = ["k562", "hepg2"]
Testis = ["k562"]
"""

#: the windows of the demo's ablation (bp; 0 = the whole input): a few of the paper's, to stay quick
DEMO_WINDOWS = [1001, 12501, 65537, 0]


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the planted model (its two CAGE tracks are the features) beside the planted
    Basenji2 twin (in-genome only, the ablation's reference) and the planted Xpresso twin (its one output
    is the feature, read on the gene's strand), as the paper's Fig. 2A, over the synthetic archive of
    :mod:`seqbench.demo.expression` (GTEx-like tissues and Cardoso-Moreira-like samples whose expression
    the planted tracks set through known weights plus noise)."""
    from seqbench.demo.expression import ensure_expression_inputs

    ensure_expression_inputs(Path(data_root))
    write_if_changed(Path(data_root) / MANUAL_KEYWORDS, MANUAL_KEYWORDS_TEXT.encode())
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "genome": {"fasta": "Data/TSS_sim/genome.fa"},
        "models": [
            {"kind": "planted", "windows": DEMO_WINDOWS},
            {"kind": "planted-basenji2", "windows": [0]},
            {"kind": "planted-xpresso", "windows": [0]},
        ],
        "inputs": {
            "gtf": "Data/TSS_sim/genes.gtf",
            "exon_intron": "Data/GTEX/genomic_sequence_plus_features_hl_all_tissues.csv",
            "gene2transcript": "Data/GTEX/gene2transcript.txt",
            "xpresso_predictions": "Results/TSS_Xpresso/xpresso_preds.tsv",
            "manual_keywords": "Data/TSS_sim/manual_keywords.toml",
        },
    }
