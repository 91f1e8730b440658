"""The embedded default of this experiment: its demo inputs over the shared synthetic genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.enhancer_shift.design import NAME


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: synthetic CRISPRi tables over the demo genome, the planted model.

    Writes the synthetic ``Data/Fulco_CRISPRi`` tables under ``data_root`` (idempotent).  Fewer
    shuffles and bootstrap resamples than the paper keep it to a few minutes on 2 cores.
    """
    from seqbench.demo.crispri import ensure_crispri_inputs

    ensure_crispri_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}},
        "inputs": {"shuffles": 3, "n_bootstrap": 2000},
    }
