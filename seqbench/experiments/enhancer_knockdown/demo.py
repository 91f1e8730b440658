"""The embedded default of this experiment: its demo inputs over the shared synthetic genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.enhancer_knockdown.design import NAME


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic CRISPRi tables of the demo genome, the planted model, 10 shuffles,
    both analyses beside the knock-down.

    Enformer-ABC on K562 DNase alone (``enformer_abc_marks = "dnase"``): the planted model has no
    H3K27ac track.  Basal expression at the demo's landing pad (the one the promoter-enhancer MPRA
    demo uses: the midpoint of the widest gap between planted TSSs, >= 200 kb from each).

    Candidate cut-offs are scaled to the planted effect sizes (the planted enhancers' predicted
    effects are 2-40 %, the nulls' 0 %): strong > 15 %, intermediate 2-8 %; the distance
    conditions and the weak cut-offs are the paper's.
    """
    import json

    from seqbench.demo.crispri import ensure_crispri_inputs
    from seqbench.demo.synthetic import TRUTH_RELPATH
    from seqbench.experiments.promoter_enhancer_mpra.demo import landing_pad_for

    ensure_crispri_inputs(Path(data_root))
    pad = landing_pad_for(json.loads((Path(data_root) / TRUTH_RELPATH).read_text()))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}},
        "inputs": {
            "shuffles": 10,
            "strong_percent": 15.0,
            "intermediate_min_percent": 2.0,
            "enformer_abc_marks": "dnase",
            "landing_pad": pad,
        },
    }
