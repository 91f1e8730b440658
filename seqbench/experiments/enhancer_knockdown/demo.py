"""The embedded default of this experiment: its demo inputs over the shared synthetic genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.enhancer_knockdown.design import NAME


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic CRISPRi tables of the demo genome, the planted model, 10 shuffles.

    Candidate cut-offs are scaled to the planted effect sizes (the planted enhancers' predicted
    effects are 2-40 %, the nulls' 0 %): strong > 15 %, intermediate 2-8 %; the distance
    conditions and the weak cut-offs are the paper's.
    """
    from seqbench.demo.crispri import ensure_crispri_inputs

    ensure_crispri_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}},
        "inputs": {"shuffles": 10, "strong_percent": 15.0, "intermediate_min_percent": 2.0},
    }
