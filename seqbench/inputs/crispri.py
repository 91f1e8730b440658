"""The CRISPRi enhancer-gene pair table shared by the knock-down and enhancer-shift experiments.

:func:`load_pairs` reads the paper's ``Data/Fulco_CRISPRi/`` inputs (experiments-spec §6.1),
checks them (one-line :class:`~seqbench.experiment.InputError` naming file, 1-based data
row, column, what was found and what was expected) and joins them as the authors do (§6.1, §6.3):

* ``ziga_additional_columns.tsv`` (the extended Avsec table): one row per enhancer-gene pair;
  the model window ``[sequence_start, sequence_end)`` (not TSS-centred), the 128-bp TSS bin
  ``[main_tss_start, main_tss_end)`` and its index ``main_tss_bin`` in that window, the assayed
  element ``[enhancer_start, enhancer_end)``, the 2-kb window ``[fix_enhancer_wide_start,
  fix_enhancer_wide_end)`` (element midpoint +- 1,000), ``validated``, ``H3K27ac/abs(distance)``;
* Fulco rows (``dataset_name == "fulco2019"``) join ``enhancer_knockdown_effects.tsv`` on
  ``fulco_key = Gene + "_" + Element name``: observed ``log2(1 + Fraction change in gene expr)``,
  ``observed_percent = |Fraction change| * 100``;
* Gasperini rows join ``gasperini.tsv`` on ``ziga_key = "gasperini2019_" + target_gene_short + "_" +
  <start-end of the lifted coordinate>``, the lifted coordinate being line *i* of the liftover BED
  for data row *i* of ``gasperini.tsv`` (``chr:start-end``; only its ``start-end`` is used, as a key):
  observed ``log2(Diff_expression_test_fold_change)``, ``observed_percent = |1 - fold change| * 100``.

A pair without a measurement keeps ``NaN`` observed values (it is still predicted); a dataset of
which *no* pair finds its measurement is refused (a key format that does not join).

The knocked-down window ``[ko_start, ko_end)`` is the 2-kb ``fix_enhancer_wide_*`` window
(``enhancer_window = "fixed"``, the authors' ``avsec_fulltable_fixed``) or Avsec et al.'s widened
element ``[enhancer_wide_start, enhancer_wide_end)`` (``"avsec"``, the authors' ``avsec_fulltable``
with ``--enh-wide-type avsec``; those two columns are then required).

All coordinates are 0-based, half-open, as in the Avsec table.  ``tss = main_tss_start + 64`` is
the TSS-bin centre; ``distance`` is the table's ``actual_tss_distance`` (``|element mid - tss|``)
and ``signed_distance = element mid - tss`` with ``mid = (enhancer_start + enhancer_end) // 2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.inputs.tables import InputError, read_table, require_int_column
from seqbench.keys import Key

#: spec ``inputs`` keys of the CRISPRi tables (paths relative to data_root, the paper's layout)
INPUT_KEYS: dict[str, Key] = {
    "crispri_table": Key(
        str, "Data/Fulco_CRISPRi/ziga_additional_columns.tsv", "extended Avsec CRISPRi table, relative to data_root"
    ),
    "fulco_effects": Key(
        str, "Data/Fulco_CRISPRi/enhancer_knockdown_effects.tsv", "Fulco 2019 knock-down effects, relative to data_root"
    ),
    "gasperini_table": Key(str, "Data/Fulco_CRISPRi/gasperini.tsv", "Gasperini 2019 effects, relative to data_root"),
    "gasperini_liftover": Key(
        str,
        "Data/Fulco_CRISPRi/hglft_genome_2c397_7c34e0.bed",
        "lifted Gasperini coordinates, one chr:start-end per gasperini.tsv row, relative to data_root",
    ),
}
PATH_INPUT_KEYS = frozenset(INPUT_KEYS)

DATASETS = ("fulco2019", "gasperini2019")
#: the knocked-down window: its name (spec ``inputs.enhancer_window``) -> the table's columns
ENHANCER_WINDOWS: dict[str, tuple[str, str]] = {
    "fixed": ("fix_enhancer_wide_start", "fix_enhancer_wide_end"),
    "avsec": ("enhancer_wide_start", "enhancer_wide_end"),
}
ABC_COLUMN = "H3K27ac/abs(distance)"
_INT_COLUMNS = (
    "sequence_start",
    "sequence_end",
    "main_tss_start",
    "main_tss_end",
    "main_tss_bin",
    "enhancer_start",
    "enhancer_end",
    "fix_enhancer_wide_start",
    "fix_enhancer_wide_end",
    "actual_tss_distance",
)
ZIGA_REQUIRED = ("ziga_key", "fulco_key", "dataset_name", "chromosome", *_INT_COLUMNS, "validated", ABC_COLUMN)
FULCO_REQUIRED = ("Gene", "Element name", "Fraction change in gene expr")
GASPERINI_REQUIRED = ("target_gene_short", "Diff_expression_test_fold_change")

#: columns of :func:`load_pairs`, in order
PAIR_COLUMNS = (
    "ziga_key",
    "dataset",
    "gene",
    "chrom",
    "sequence_start",
    "sequence_end",
    "main_tss_start",
    "main_tss_end",
    "main_tss_bin",
    "tss",
    "enhancer_start",
    "enhancer_end",
    "fix_start",
    "fix_end",
    "ko_start",
    "ko_end",
    "distance",
    "signed_distance",
    "validated",
    "observed_log2fc",
    "observed_percent",
    "abc_score",
)

#: The candidate table (``in_silico_candidate_locs.tsv``, §6.3): written by ``enhancer-knockdown``
#: (``tables/in_silico_candidate_locs.tsv``), read by ``multiplicativity`` (``inputs.candidates``,
#: ``--from``).  One row per candidate pair, coordinates 0-based half-open as in the Avsec table:
#: the integer columns, checked on reading
CANDIDATE_INT_COLUMNS = (
    "main_tss_start",
    "main_tss_end",
    "main_tss_bin",
    "fix_enhancer_wide_start",
    "fix_enhancer_wide_end",
    "sequence_start",
    "sequence_end",
)
#: the columns its reader requires (``test_location``: a boolean, the row is a background)
CANDIDATE_REQUIRED = ("ziga_key", "chromosome", *CANDIDATE_INT_COLUMNS, "test_location")
#: every column, in the order the knock-down writes them: the required ones, the candidate's own
#: knock-down effect (``log2_fc_pred``; optional for the reader) and the rule that selected it
CANDIDATE_COLUMNS = (*CANDIDATE_REQUIRED, "log2_fc_pred", "candidate_type")


def _found(value: Any) -> str:
    return "the cell is empty (or NA)" if pd.isna(value) else repr(str(value))


def _bool_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    flags = frame[column].astype(str).str.strip().str.lower()
    ok = flags.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not ok.all():
        i = int((~ok).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column {column!r}: {_found(frame[column].iloc[i])}; expected a boolean"
            " (True, False, 1 or 0)"
        )
    return flags.isin(["true", "1", "1.0"])


def _float_column(frame: pd.DataFrame, column: str, path: Path, *, positive: bool = False) -> pd.Series:
    col = pd.to_numeric(frame[column], errors="coerce")
    bad = col.isna() | ~np.isfinite(col.to_numpy(dtype=np.float64, na_value=np.nan))
    if positive:
        bad |= col <= 0
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        want = "a positive number" if positive else "a number"
        raise InputError(f"{path}: row {i + 1}, column {column!r}: {_found(frame[column].iloc[i])}; expected {want}")
    return col.astype(np.float64)


def _unique(keys: pd.Series, path: Path, column: str) -> None:
    dup = keys.duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        first = int((keys == keys.iloc[i]).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column {column!r}: {str(keys.iloc[i])!r} is already the key of row {first + 1};"
            " expected unique keys"
        )


def _paths(inputs: dict[str, Any]) -> dict[str, Path]:
    out = {}
    for k, key in INPUT_KEYS.items():
        v = inputs.get(k, key.default)
        out[k] = Path(v)
    return out


def load_ziga(path: Path, enhancer_window: str = "fixed") -> pd.DataFrame:
    """The extended Avsec table, checked (integer coordinates, widths, datasets, flags); with
    ``enhancer_window = "avsec"`` also the ``enhancer_wide_start/end`` columns."""
    if enhancer_window not in ENHANCER_WINDOWS:
        raise InputError(f"inputs.enhancer_window = {enhancer_window!r}; expected one of {', '.join(ENHANCER_WINDOWS)}")
    wide = ENHANCER_WINDOWS[enhancer_window]
    extra = tuple(c for c in wide if c not in ZIGA_REQUIRED)
    frame = read_table(path, ZIGA_REQUIRED, what="CRISPRi pair table")
    for c in extra:
        if c not in frame.columns:
            raise InputError(
                f"{path}: CRISPRi pair table lacks column {c!r}; expected it for inputs.enhancer_window ="
                f" {enhancer_window!r} (or set enhancer_window = 'fixed')"
            )
    gene_col = "gene" if "gene" in frame.columns else "Gene" if "Gene" in frame.columns else None
    if gene_col is None:
        raise InputError(f"{path}: CRISPRi pair table lacks column 'gene' (or 'Gene')")
    for col in (*_INT_COLUMNS, *extra):
        require_int_column(frame, col, path)
        frame[col] = frame[col].astype(np.int64)
    frame["validated"] = _bool_column(frame, "validated", path)
    frame[ABC_COLUMN] = pd.to_numeric(frame[ABC_COLUMN], errors="coerce").astype(np.float64)
    ds = frame["dataset_name"].astype(str)
    bad = ~ds.isin(DATASETS)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'dataset_name': {_found(frame['dataset_name'].iloc[i])}; expected one of"
            f" {', '.join(DATASETS)}"
        )
    _unique(frame["ziga_key"].astype(str), path, "ziga_key")
    for i, r in enumerate(frame.itertuples(index=False)):
        if r.main_tss_end - r.main_tss_start != 128:
            raise InputError(
                f"{path}: row {i + 1}, column 'main_tss_end': {r.main_tss_end} - main_tss_start {r.main_tss_start}"
                f" = {r.main_tss_end - r.main_tss_start}; expected the 128-bp TSS bin"
            )
        for lo, hi in (
            ("enhancer_start", "enhancer_end"),
            ("fix_enhancer_wide_start", "fix_enhancer_wide_end"),
            ("sequence_start", "sequence_end"),
            *((extra,) if extra else ()),
        ):
            if getattr(r, hi) <= getattr(r, lo):
                raise InputError(
                    f"{path}: row {i + 1}, column {hi!r}: {getattr(r, hi)} is not after {lo} = {getattr(r, lo)};"
                    f" expected {lo} < {hi}"
                )
        if r.actual_tss_distance < 0:
            raise InputError(
                f"{path}: row {i + 1}, column 'actual_tss_distance': {r.actual_tss_distance}; expected a distance >= 0"
            )
    frame["gene_name"] = frame[gene_col].astype(str)
    return frame


def load_fulco(path: Path) -> pd.DataFrame:
    """Fulco 2019 effects: ``fulco_key`` -> fraction change (checked: numeric, > -1, unique keys)."""
    frame = read_table(path, FULCO_REQUIRED, what="Fulco knock-down effects table")
    fc = _float_column(frame, "Fraction change in gene expr", path)
    low = fc <= -1
    if low.any():
        i = int(low.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'Fraction change in gene expr': {fc.iloc[i]!r}; expected a fraction change"
            " > -1 (the remaining expression must be positive)"
        )
    key = frame["Gene"].astype(str) + "_" + frame["Element name"].astype(str)
    _unique(key, path, "Element name")
    return pd.DataFrame({"fulco_key": key, "fraction_change": fc})


def load_gasperini(path: Path, liftover: Path) -> pd.DataFrame:
    """Gasperini 2019 effects keyed by ``gasperini2019_<gene>_<lifted start-end>`` (row i <-> BED line i)."""
    frame = read_table(path, GASPERINI_REQUIRED, what="Gasperini effects table")
    fold = _float_column(frame, "Diff_expression_test_fold_change", path, positive=True)
    if not liftover.is_file():
        raise InputError(f"{liftover}: Gasperini liftover BED not found")
    try:
        lines = [ln.strip() for ln in liftover.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{liftover}: Gasperini liftover BED cannot be read ({exc})") from exc
    lines = [ln for ln in lines if ln and not ln.startswith(("#", "track", "browser"))]
    if len(lines) != len(frame):
        raise InputError(
            f"{liftover}: {len(lines)} lifted coordinates for {len(frame)} data rows of {path.name};"
            " expected one line per row, in row order"
        )
    spans = []
    for i, ln in enumerate(lines):
        field = ln.split()[0]
        chrom, sep, rest = field.rpartition(":")
        lo, dash, hi = rest.partition("-")
        if not (sep and dash and lo.isdigit() and hi.isdigit()):
            raise InputError(f"{liftover}: line {i + 1}: {field!r}; expected a lifted coordinate chr:start-end")
        spans.append(f"{lo}-{hi}")
    key = "gasperini2019_" + frame["target_gene_short"].astype(str) + "_" + pd.Series(spans, index=frame.index)
    _unique(key, path, "target_gene_short")
    return pd.DataFrame({"ziga_key": key, "fold_change": fold})


def load_pairs(inputs: dict[str, Any], genome=None, *, enhancer_window: str = "fixed") -> pd.DataFrame:
    """One row per enhancer-gene pair, columns :data:`PAIR_COLUMNS` (see the module docstring).

    ``inputs``: the spec's ``inputs`` (paths under the :data:`INPUT_KEYS` keys, absolute or
    relative to the working directory).  ``enhancer_window``: which window ``ko_start, ko_end``
    holds (:data:`ENHANCER_WINDOWS`).  With a ``genome``, chromosomes are checked and the
    2-kb and knocked-down windows must lie on their chromosome.
    """
    paths = _paths(inputs)
    ziga_path = paths["crispri_table"]
    z = load_ziga(ziga_path, enhancer_window)
    ko = ENHANCER_WINDOWS[enhancer_window]
    out = pd.DataFrame(
        {
            "ziga_key": z["ziga_key"].astype(str),
            "dataset": z["dataset_name"].astype(str),
            "gene": z["gene_name"],
            "chrom": z["chromosome"].astype(str),
            "sequence_start": z["sequence_start"],
            "sequence_end": z["sequence_end"],
            "main_tss_start": z["main_tss_start"],
            "main_tss_end": z["main_tss_end"],
            "main_tss_bin": z["main_tss_bin"],
            "tss": z["main_tss_start"] + 64,
            "enhancer_start": z["enhancer_start"],
            "enhancer_end": z["enhancer_end"],
            "fix_start": z["fix_enhancer_wide_start"],
            "fix_end": z["fix_enhancer_wide_end"],
            "ko_start": z[ko[0]],
            "ko_end": z[ko[1]],
            "distance": z["actual_tss_distance"],
            "signed_distance": (z["enhancer_start"] + z["enhancer_end"]) // 2 - (z["main_tss_start"] + 64),
            "validated": z["validated"].astype(bool),
            "observed_log2fc": np.nan,
            "observed_percent": np.nan,
            "abc_score": z[ABC_COLUMN],
        }
    )
    is_fulco = (out["dataset"] == "fulco2019").to_numpy()
    is_gas = (out["dataset"] == "gasperini2019").to_numpy()
    if is_fulco.any():
        fulco = load_fulco(paths["fulco_effects"]).set_index("fulco_key")["fraction_change"]
        fc = z.loc[is_fulco, "fulco_key"].astype(str).map(fulco)
        if fc.isna().all():
            raise InputError(
                f"{paths['fulco_effects']}: no fulco2019 pair of {ziga_path.name} finds its effect (first fulco_key"
                f" {str(z.loc[is_fulco, 'fulco_key'].iloc[0])!r}); expected fulco_key = Gene + '_' + Element name"
            )
        out.loc[is_fulco, "observed_log2fc"] = np.log2(1.0 + fc.to_numpy(dtype=np.float64))
        out.loc[is_fulco, "observed_percent"] = np.abs(fc.to_numpy(dtype=np.float64)) * 100.0
    if is_gas.any():
        gas = load_gasperini(paths["gasperini_table"], paths["gasperini_liftover"]).set_index("ziga_key")
        fold = out.loc[is_gas, "ziga_key"].map(gas["fold_change"])
        if fold.isna().all():
            raise InputError(
                f"{paths['gasperini_table']}: no gasperini2019 pair of {ziga_path.name} finds its effect (first"
                f" ziga_key {out.loc[is_gas, 'ziga_key'].iloc[0]!r}); expected ziga_key ="
                " 'gasperini2019_' + target_gene_short + '_' + lifted start-end"
            )
        out.loc[is_gas, "observed_log2fc"] = np.log2(fold.to_numpy(dtype=np.float64))
        out.loc[is_gas, "observed_percent"] = np.abs(1.0 - fold.to_numpy(dtype=np.float64)) * 100.0

    if genome is not None:
        for i, r in enumerate(out.itertuples(index=False)):
            if r.chrom not in genome:
                genome.check_chrom(r.chrom, where=f"{ziga_path}: row {i + 1}, column 'chromosome'")
            length = genome.lengths[r.chrom]
            for (lo_col, hi_col), lo, hi in (
                (ENHANCER_WINDOWS["fixed"], r.fix_start, r.fix_end),
                (ko, r.ko_start, r.ko_end),
            ):
                if lo < 0 or hi > length:
                    col = lo_col if lo < 0 else hi_col
                    raise InputError(
                        f"{ziga_path}: row {i + 1}, column {col!r}: [{lo}, {hi}) is off {r.chrom}"
                        f" (length {length}); expected 0 <= {lo_col} < {hi_col} <= {length}"
                    )
    return out[list(PAIR_COLUMNS)].reset_index(drop=True)
