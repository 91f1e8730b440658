"""The embedded default of ``constructs``: a tile-necessity scan around every planted gene.

Writes ``Data/Constructs/genes.tsv`` (the planted genes' TSSs, from the demo truth) and
``Data/Constructs/tile_scan.tsv`` (:func:`.sweeps.tile_scan`: 5-kb tiles within ±50 kb, 10 seeded
shuffles each) under ``data_root``; both are rewritten only when their content changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.demo.synthetic import DemoLayout
from seqbench.experiments.constructs.design import NAME
from seqbench.experiments.constructs.sweeps import tile_scan
from seqbench.files import write_if_changed

DIR = Path("Data/Constructs")


def ensure_constructs_inputs(data_root: Path) -> Path:
    """The demo's construct table (written next to the demo genome); returns its path."""
    layout = DemoLayout.at(Path(data_root))
    truth = json.loads(layout.truth.read_text())
    genes = pd.DataFrame(
        [{"gene": g["gene"], "chrom": g["chromosome"], "tss": g["tss_centre"], "strand": "+"} for g in truth["genes"]]
    )
    table = tile_scan(genes, flank=50_000, tile=5_000, replicates=10, lengths=truth["chromosomes"])
    out = Path(data_root) / DIR
    write_if_changed(out / "genes.tsv", genes.to_csv(sep="\t", index=False))
    write_if_changed(out / "tile_scan.tsv", table.to_csv(sep="\t", index=False))
    return out / "tile_scan.tsv"


def demo_spec(data_root: Path) -> dict[str, Any]:
    """The embedded default: the tile scan over the planted genes, the planted model."""
    ensure_constructs_inputs(Path(data_root))
    return {
        "experiment": NAME,
        "data_root": str(data_root),
        "model": {"kind": "planted"},
        "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}},
        "inputs": {"table": (DIR / "tile_scan.tsv").as_posix(), "group_by": ["tile_offset", "gene"]},
    }
