"""Figures of the enhancer knock-down experiment (Agg canvas, no pyplot state).

==========================================  ========================================================
file                                        content
==========================================  ========================================================
knockdown_effect_vs_distance.png            Fig. 5E-like: measured and predicted effect (%) of
                                            validated pairs vs distance, log-log axes
knockdown_predicted_vs_measured.png         Fig. S8-S11-like: predicted vs measured log2 FC per
                                            dataset, validated pairs highlighted, Pearson r in title
knockdown_auprc_by_distance.png             AUPRC of |log2 FC|, |delta| and ABC per distance bin,
                                            with the random baseline
==========================================  ========================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import new_figure as _figure
from seqbench.report.figures import save_png as _save

if TYPE_CHECKING:

    from seqbench.experiments.enhancer_knockdown.stats import KnockdownResults

FIGURE_FILES = (
    "knockdown_effect_vs_distance.png",
    "knockdown_predicted_vs_measured.png",
    "knockdown_auprc_by_distance.png",
)


def write_figures(results: KnockdownResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    from seqbench.experiments.enhancer_knockdown.stats import DISTANCE_LABELS

    out_dir = Path(out_dir)
    e = results.effects
    paths = []

    fig = _figure(6.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    v = e[e["validated"] & (e["distance"] > 0)]
    floor = 1e-3  # a zero effect is drawn at the floor of the log axis
    ax.scatter(v["distance"], np.maximum(v["observed_percent"], floor), s=12, label="measured", color="tab:blue")
    ax.scatter(v["distance"], np.maximum(v["predicted_percent"], floor), s=12, label="predicted", color="tab:orange")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distance enhancer - TSS (bp)")
    ax.set_ylabel("effect on expression (%)")
    ax.legend()
    ax.set_title(f"Validated enhancers: effect vs distance\n{title_suffix}", fontsize=9)
    fig.tight_layout()
    paths.append(_save(fig, out_dir / FIGURE_FILES[0]))

    datasets = [d for d in ("fulco2019", "gasperini2019") if (e["dataset"] == d).any()]
    fig = _figure(5.0 * max(len(datasets), 1), 4.5)
    for k, ds in enumerate(datasets):
        ax = fig.add_subplot(1, max(len(datasets), 1), k + 1)
        f = e[e["dataset"] == ds]
        ax.scatter(
            f.loc[~f["validated"], "observed_log2fc"],
            f.loc[~f["validated"], "log2_fc_pred"],
            s=10,
            color="grey",
            label="not validated",
        )
        ax.scatter(
            f.loc[f["validated"], "observed_log2fc"],
            f.loc[f["validated"], "log2_fc_pred"],
            s=12,
            color="tab:red",
            label="validated",
        )
        r = results.correlations
        rr = r[(r["dataset"] == ds) & (r["subset"] == "all")]["pearson"]
        ax.set_title(f"{ds}: r = {float(rr.iloc[0]) if len(rr) else float('nan'):.2f}\n{title_suffix}", fontsize=9)
        ax.set_xlabel("measured log2 FC")
        ax.set_ylabel("predicted log2 FC")
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(_save(fig, out_dir / FIGURE_FILES[1]))

    fig = _figure(6.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    a = results.auprc[(results.auprc["dataset"] == "combined") & results.auprc["distance_bin"].isin(DISTANCE_LABELS)]
    a = a.set_index("distance_bin").reindex(list(DISTANCE_LABELS))
    x = np.arange(len(DISTANCE_LABELS))
    for j, (col, lab) in enumerate(
        (("auprc_abs_log2fc", "|log2 FC|"), ("auprc_abs_delta", "|delta|"), ("auprc_abc", "ABC"))
    ):
        ax.bar(x + (j - 1) * 0.25, a[col].to_numpy(dtype=float), width=0.25, label=lab)
    ax.scatter(x, a["random_baseline"].to_numpy(dtype=float), marker="_", s=400, color="black", label="random")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lab} kb" for lab in DISTANCE_LABELS])
    ax.set_ylabel("AUPRC (validated vs not)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    ax.set_title(f"AUPRC by distance\n{title_suffix}", fontsize=9)
    fig.tight_layout()
    paths.append(_save(fig, out_dir / FIGURE_FILES[2]))
    return paths
