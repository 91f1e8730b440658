"""The job report every experiment shares: ``summary.json``'s common keys, ``report.md`` and the
headline printed at the end of a job.  Plain Python: no Ray, no experiment branches.

Headline labels may name spec inputs as ``{key}`` (``{calibration_loci[0]}``): they are filled
from the job's ``inputs``, so a label never states a value the spec changed.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: summary keys the runtime adds to every experiment's own (in this order, first)
COMMON_KEYS = (
    "experiment",
    "model",
    "model_handle",
    "genome",
    "spec",
    "n_constructs",
    "n_members",
    "genome_ambiguous_bases",
)


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def label(text: str, inputs: Mapping[str, Any] | None) -> str:
    """``text`` with ``{key}`` / ``{key[i]}`` filled from ``inputs``; unknown names are left as they are."""
    if not inputs or "{" not in text:
        return text
    try:
        return string.Formatter().vformat(text, (), _Keep({k: v for k, v in inputs.items()}))
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        return text


def md_cell(value: Any) -> str:
    """A value safe inside a Markdown table cell: pipes escaped, line breaks flattened."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def shown(value: Any) -> str:
    """A headline value as printed: floats to three decimals, missing values as 'n/a'."""
    if value is None:
        return "n/a (no data)"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def assemble_summary(
    experiment: str, manifest: Mapping[str, Any], own: Mapping[str, Any], ambiguous_bases: int
) -> dict[str, Any]:
    """``summary.json``: the common keys (:data:`COMMON_KEYS`), then the experiment's own."""
    return {
        "experiment": experiment,
        "model": manifest["model"]["name"],
        "model_handle": manifest["model"]["resolved_handle"],
        "genome": manifest["genome"],
        "spec": manifest["spec_source"],
        "n_constructs": manifest["n_constructs"],
        "n_members": manifest["n_members"],
        "genome_ambiguous_bases": int(ambiguous_bases),
        **own,
    }


def tracks_line(tracks: Mapping[str, Any], show: int = 8) -> str:
    """The tracks read, in one line; a long list (per-locus matching can pick hundreds) is cut short."""
    items = [f"{k} = {v['index']} ({v['description']})" for k, v in tracks.items()]
    if len(items) <= show:
        return "; ".join(items)
    return "; ".join(items[:show]) + f"; and {len(items) - show} more (all in `manifest.json`)"


def write_report_md(
    job_path: Path,
    exp: Any,
    summary: Mapping[str, Any],
    headline: Sequence[tuple[str, str, Any]],
    tables: Sequence[Path],
    figures: Sequence[Path],
    manifest: Mapping[str, Any],
) -> Path:
    """``report.md``: what produced the results (model, genome, spec, tracks, ensemble, design),
    the headline with the paper's values, the figures and the tables."""
    no_model = int(summary.get("n_constructs") or 0) == 0  # an experiment that runs no model (class-imbalance)
    model_lines = [
        f"- **Model:** {summary['model']} (`{summary['model_handle']}`)" + planted_note(manifest["model"]),
        "- **Tracks:** " + tracks_line(manifest["tracks"]),
        f"- **Ensemble:** {', '.join(manifest['ensemble']['members'])} "
        f"(bins {manifest['ensemble']['bin_window']} around the landmark bin, summed;"
        " mean over members, then log2(x+1))",
    ]
    lines = [
        f"# {exp.title}" + (f" — {summary['variant']}" if summary.get("variant") else ""),
        "",
        *(["- **Model:** none: this experiment reduces its input tables alone (no forward pass)"] if no_model
          else model_lines[:1]),
        f"- **Genome:** `{summary['genome']}`"
        + (
            f" ({summary['genome_ambiguous_bases']:,} IUPAC ambiguity codes in the windows read, encoded as N)"
            if summary.get("genome_ambiguous_bases")
            else ""
        ),
        f"- **Spec:** {summary['spec']}",
        *([] if no_model else model_lines[1:]),
        *([] if no_model else
          [f"- **Design:** {summary['n_constructs']:,} constructs, {summary['n_members']:,} forward passes"]),
        *([f"- **Receptive field:** {summary['window']:,} bp centred on the landmark, N elsewhere"]
          if summary.get("window") else []),
        f"- **seqbench:** {manifest['seqbench_version']}",
        "",
        "## Headline",
        "",
        "| figure | value | paper (Enformer) |",
        "|---|---|---|",
    ]
    for key, text, value in headline:
        paper = exp.paper_values.get(key, "")
        lines.append(f"| {md_cell(text)} (`{key}`) | {md_cell(shown(value))} | {md_cell(paper)} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}]({p.relative_to(job_path)})" for p in figures]
    lines += ["", "## Tables", ""]
    lines += [f"- `{p.relative_to(job_path)}`" for p in tables]
    lines += ["", "All headline figures, under stable keys, are in `summary.json`.", ""]
    path = Path(job_path) / "report.md"
    path.write_text("\n".join(lines))
    return path


#: the real model each planted twin mirrors, for the report's warning
_TWIN_OF = {"planted": "Enformer", "planted-v2": "Enformer", "planted-basenji2": "Basenji2",
            "planted-basenji1": "Basenji1", "planted-xpresso": "Xpresso"}


def planted_note(model: Mapping[str, Any]) -> str:
    """The report's warning after a planted model's name ('' for a real model)."""
    if str(model.get("kind")) == "enformer-twin":
        return (" — the *enformer-twin*, Enformer's architecture with random weights: a cost stand-in for benchmarks,"
                " never a predictor; these numbers say nothing about Enformer or the biology.")
    real = _TWIN_OF.get(str(model.get("kind")))
    if real is None:
        return ""
    return (f" — a *planted* model ({real}'s interface and geometry), a synthetic instrument with known biology;"
            f" these numbers check the pipeline and say nothing about {real}.")


def write_comparison_report(
    job_path: Path,
    exp: Any,
    summary: Mapping[str, Any],
    frame: Any,
    headline: Sequence[tuple[str, str]],
    tables: Sequence[Path],
    figures: Sequence[Path],
    manifest: Mapping[str, Any],
) -> Path:
    """``report.md`` of a job of several models or windows: each model, the comparison table and figure,
    and a link to each variant's own report (``variants/<name>/report.md``)."""
    lines = [f"# {exp.title}: {len(frame)} models and windows side by side", ""]
    for m in manifest["models"]:
        g = m["geometry"]
        lines.append(f"- **Model {m['name']}:** `{m['resolved_handle']}`, {g['sequence_length']:,} bp in"
                     + planted_note(m))
    lines += [
        f"- **Genome:** `{summary['genome']}`",
        f"- **Spec:** {summary['spec']}",
        f"- **Design:** {summary['n_constructs']:,} constructs (the same for every model), {summary['n_members']:,}"
        " forward passes in all",
        f"- **seqbench:** {manifest['seqbench_version']}",
        "",
        "## Headline, side by side",
        "",
        "| variant | model | window (bp) | " + " | ".join(md_cell(t) for _k, t in headline) + " |",
        "|---|---|---|" + "---|" * len(headline),
    ]
    for _, row in frame.iterrows():
        cells = [md_cell(shown(row[k] if row[k] == row[k] else None)) for k, _t in headline]
        lines.append(f"| [{row['variant']}](variants/{row['variant']}/report.md) | {md_cell(row['model'])} | "
                     f"{int(row['window']) or 'whole input'} | " + " | ".join(cells) + " |")
    paper = [f"{md_cell(t)}: {md_cell(exp.paper_values[k])}" for k, t in headline if exp.paper_values.get(k)]
    if paper:
        lines += ["", "Paper (Enformer): " + "; ".join(paper)]
    combined = summary.get("combined")
    if isinstance(combined, Mapping) and combined:
        lines += ["", "## Across the variants", "", "| figure | value |", "|---|---|"]
        lines += [f"| {md_cell(k)} | {md_cell(shown(v))} |" for k, v in combined.items()]
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}]({p.relative_to(job_path)})" for p in figures]
    lines += ["", "## Tables", ""]
    lines += [f"- `{p.relative_to(job_path)}`" for p in tables]
    lines += ["", "Each variant's tables, figures, summary and report are in `variants/<name>/`;"
              " `summary.json` holds them all under `variants`.", ""]
    path = Path(job_path) / "report.md"
    path.write_text("\n".join(lines))
    return path


def headline_lines(
    model_name: str,
    headline: Sequence[tuple[str, str, Any]],
    job_dir: Path,
    *,
    already_complete: bool = False,
    timings: Mapping[str, float] | None = None,
) -> str:
    """What ``submit`` prints at the end: the model, the headline figures, where the time went, the job."""
    out = [f"model: {model_name}"]
    if already_complete:
        out.insert(0, "already complete: nothing computed (results of the finished job)")
    for _key, text, value in headline:
        out.append(f"  {text}: {shown(value)}")
    if timings:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total")
        out.append(f"elapsed {timings.get('total', sum(timings.values())):.1f} s ({parts})")
    out.append(f"job directory: {job_dir}")
    return "\n".join(out)
