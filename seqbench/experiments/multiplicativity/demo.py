"""The embedded default of this experiment: its demo inputs over the shared synthetic genome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.experiments.multiplicativity.design import NAME


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the synthetic demo archive and planted-v2, whose promoter saturation is a known
    departure from multiplicativity (planted-v1 is exactly multiplicative within a background, so its R²
    would only ever test the statistics at 1; docs/planted-model.md derives what v2's should read)."""
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted-v2"},
        "tracks": {
            "cage": {"assay": "CAGE", "cell_type": "K562"},
            "dnase": {"assay": "DNASE", "cell_type": "K562"},
        },
    }
