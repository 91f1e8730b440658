"""A plug-in experiment, as a third party would write one: ``promoter-mask``.

Each gene of a table (``gene``, ``chrom``, ``tss``) is read at its TSS twice: as it is, and with
``width`` bp around the TSS masked with N.  Reduce: ``log2fc = log2(masked + 1) - log2(ref + 1)``
per gene.  Registered through the entry point ``seqbench.experiments`` (see ``pyproject.toml``);
it uses only seqbench's public contract: :mod:`seqbench.experiment`, :mod:`seqbench.keys` and
:mod:`seqbench.sequence.constructs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.experiment import Design, Experiment, construct_means
from seqbench.keys import Key
from seqbench.sequence.constructs import Construct, mask

SUMMARY_KEYS = ("n_genes", "median_log2fc")


@dataclass(frozen=True)
class Builder:
    genes: tuple[tuple[str, str, int], ...]
    width: int

    def __call__(self, i: int) -> Construct:
        gene, chrom, tss = self.genes[i // 2]
        edits = (mask(tss - self.width // 2, tss + self.width // 2),) if i % 2 else ()
        return Construct(key=f"{gene}|{'masked' if i % 2 else 'reference'}", chrom=chrom, landmark=tss, edits=edits)


def expand(spec, genome, geometry) -> Design:
    table = pd.read_csv(spec.inputs["genes"], sep="\t")
    genes = tuple((str(r.gene), str(r.chrom), int(r.tss)) for r in table.itertuples(index=False))
    n = 2 * len(genes)
    design = pd.DataFrame({"construct_id": np.arange(n), "gene": [g[0] for g in genes for _ in (0, 1)],
                           "masked": [bool(i % 2) for i in range(n)]})
    return Design(design, Builder(genes, spec.inputs["width"]))


@dataclass
class Results:
    effects: pd.DataFrame

    def summary(self) -> dict:
        return {"n_genes": len(self.effects), "median_log2fc": float(self.effects["log2fc"].median())}


def reduce(predictions, design, spec, map_fn=None) -> Results:
    m = construct_means(predictions, design, ["cage"])
    wide = m.pivot(index="gene", columns="masked", values="cage")
    eff = pd.DataFrame({"gene": wide.index, "log2fc": np.log2(wide[True] + 1) - np.log2(wide[False] + 1)})
    return Results(eff.reset_index(drop=True))


def write_tables(results: Results, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "promoter_mask.tsv"
    results.effects.to_csv(path, sep="\t", index=False)
    return [path]


def write_figures(results: Results, out_dir: Path, *, title_suffix: str) -> list[Path]:
    return []


def demo_spec(data_root: Path) -> dict:
    genes = Path(data_root) / "plugin_genes.tsv"
    genes.write_text("gene\tchrom\ttss\nGENE1\tchr1\t215232\nGENE2\tchr1\t751936\n")
    return {"experiment": "promoter-mask", "data_root": str(data_root), "model": {"kind": "planted"},
            "inputs": {"genes": "plugin_genes.tsv"}}


EXPERIMENT = Experiment(
    name="promoter-mask",
    title="Promoters masked with N (a plug-in example)",
    inputs={"genes": Key(str, "genes.tsv", "genes table", path=True),
            "width": Key(int, 1000, "bp masked around the TSS", min=2)},
    path_inputs=frozenset({"genes"}),
    default_tracks={"cage": {"assay": "CAGE", "cell_type": "K562"}},
    readout="cage",
    expand=expand,
    reduce=reduce,
    write_tables=write_tables,
    write_figures=write_figures,
    demo_spec=demo_spec,
    headline=(("median_log2fc", "median log2 FC of a masked promoter"),),
    summary_keys=SUMMARY_KEYS,
)
