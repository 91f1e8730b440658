"""Common designs written as construct tables (``seqbench-ray design tiles|distances``).

Both return a :class:`pandas.DataFrame` in the construct-table layout of :mod:`.design`; write
it with ``to_csv(path, sep="\\t", index=False)`` and run it with ``seqbench-ray submit constructs``.
Coordinates are 0-based; tiles are half-open ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

GENE_COLUMNS = ("gene", "chrom", "tss")


def tile_scan(
    genes: pd.DataFrame,
    *,
    flank: int = 50_000,
    tile: int = 5_000,
    replicates: int = 10,
    kind: str = "mono",
    lengths: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Tile necessity in the style of CREME: every ``tile``-bp tile within ``±flank`` of each TSS
    shuffled, ``replicates`` times each, read at the TSS and compared with the gene's reference.

    ``genes``: columns ``gene``, ``chrom``, ``tss`` (0-based), optionally ``strand`` (``+``/``-``;
    ``tile_offset`` is then measured along the gene).  Tiles that would leave the chromosome
    (``lengths``) are left out.  Labels: ``gene``, ``tile_start``, ``tile_end``, ``tile_offset``
    (tile midpoint minus TSS, bp), ``replicate``.
    """
    missing = [c for c in GENE_COLUMNS if c not in genes.columns]
    if missing:
        raise ValueError(f"genes table lacks column(s) {', '.join(missing)}; expected {', '.join(GENE_COLUMNS)}")
    if tile < 1:
        raise ValueError(f"tile {tile}; expected >= 1")
    if flank < tile:
        raise ValueError(f"flank {flank} is less than tile {tile}; expected flank >= tile")
    if replicates < 1:
        raise ValueError(f"replicates {replicates}; expected >= 1")
    if kind not in ("mono", "di"):
        raise ValueError(f"kind {kind!r}; expected mono or di")
    if "strand" in genes.columns:
        bad = ~genes["strand"].astype(str).str.strip().isin(["+", "-"])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise ValueError(f"row {i + 1}, column 'strand': {genes['strand'].iloc[i]!r}; expected + or -")
    rows = []
    for g in genes.itertuples(index=False):
        gene, chrom, tss = str(g.gene), str(g.chrom), int(g.tss)
        sign = -1 if str(getattr(g, "strand", "+")).strip() == "-" else 1
        ref = f"{gene}|reference"
        rows.append({"name": ref, "chrom": chrom, "landmark": tss, "edits": "", "reference": "",
                     "gene": gene, "tile_start": "", "tile_end": "", "tile_offset": "", "replicate": ""})
        for k in range((2 * flank) // tile):
            start = tss - flank + k * tile
            end = start + tile
            if start < 0 or (lengths is not None and end > lengths[chrom]):
                continue
            offset = sign * ((start + end) // 2 - tss)
            for r in range(replicates):
                rows.append({
                    "name": f"{gene}|tile:{start}-{end}|r{r}", "chrom": chrom, "landmark": tss,
                    "edits": f"shuffle:{start}-{end}:{kind}:{r}", "reference": ref, "gene": gene,
                    "tile_start": start, "tile_end": end, "tile_offset": offset, "replicate": r,
                })
    return pd.DataFrame(rows)


def distance_sweep(
    *,
    chrom: str,
    tss: int,
    element: tuple[int, int],
    distances: Sequence[int],
    name: str = "element",
    remove_native: bool = True,
) -> pd.DataFrame:
    """One element (``chrom:[element)``) inserted at each signed distance ``d`` from the TSS
    (insertion point ``tss + d``), read at the TSS, compared with the locus without the element
    (its native copy masked with N when ``remove_native``).  Labels: ``distance``, ``placement``.
    """
    s, e = int(element[0]), int(element[1])
    if e <= s:
        raise ValueError(f"element {chrom}:{s}-{e} is empty")
    native_edit = f"mask:{s}-{e}" if remove_native else ""
    base = f"{name}|removed"
    rows = [
        {"name": base, "chrom": chrom, "landmark": tss, "edits": native_edit, "reference": "",
         "distance": "", "placement": "removed"},
        {"name": f"{name}|native", "chrom": chrom, "landmark": tss, "edits": "", "reference": base,
         "distance": "", "placement": "native"},
    ]
    for d in distances:
        pos = int(tss) + int(d)
        if s < pos < e:
            raise ValueError(f"distance {d}: the insertion point {pos} lies inside the element {chrom}:{s}-{e}")
        edits = ";".join(x for x in (native_edit, f"insert:{pos}={chrom}:{s}-{e}") if x)
        rows.append({"name": f"{name}|d{int(d):+d}", "chrom": chrom, "landmark": tss, "edits": edits,
                     "reference": base, "distance": int(d), "placement": "inserted"})
    return pd.DataFrame(rows)
