"""What every report's figures share: an off-screen matplotlib figure, an atomic PNG write, and the
small helpers that keep a figure honest and readable at the size it is written.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no global
state, safe in Ray workers and tests) and saved at :data:`DPI`.  Sizes are in inches and fonts in
points, so a font of :data:`MIN_FONT` points is that size in the written PNG.

Helpers (each experiment's ``figures`` module uses them instead of drawing its own variant):

* :class:`ZeroBand` and :func:`mark_zeros_on_log_axis`: values a log axis cannot show (0, or
  below) are drawn in a shaded band under the positive range whose only tick reads "0" and which
  says how many values it holds; never at an unlabelled floor that reads as a value;
* :func:`ensure_log_ticks`: at least two labelled ticks on every log axis, plain numbers;
* :func:`bars_with_no_data` / :func:`no_data_bar`: a missing (NaN) bar is the text "no data",
  never a bar of height 0;
* :func:`legend`: ``loc="best"`` with a translucent frame, or outside the axes on the right;
* :func:`label_every`: category tick labels at a readable size, every k-th one when there are
  too many, with a note saying so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

DPI = 150
#: the smallest font (points) of any text in a figure, tick labels included
MIN_FONT = 7
#: text drawn in place of a bar that has no value
NO_DATA = "no data"


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; returns ``path``."""
    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


def save_all(figures: Iterable[tuple[str, Figure]], out_dir: Path) -> list[Path]:
    """Write each ``(file name, figure)`` into ``out_dir`` (created); return the paths in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [save_png(fig, out_dir / name) for name, fig in figures]


def n_label(n: int) -> str:
    """``"n = 1,234"``: how every figure states its n."""
    return f"n = {int(n):,}"


# ---------------------------------------------------------------------------------------------
# log axes: readable ticks, and zeros marked as zeros


def _log_tick_label(v: float) -> str:
    if 1e-3 <= v < 1e5:
        return f"{v:.6g}"
    e = math.floor(math.log10(v) + 1e-9)
    m = v / 10**e
    return f"$10^{{{e}}}$" if abs(m - 1) < 1e-6 else f"${m:.2g}\\times10^{{{e}}}$"


def log_ticks(lo: float, hi: float) -> list[float]:
    """At least two tick values in ``[lo, hi]`` (0 < lo < hi) for a log axis: the decades, else
    1-2-5 of each decade, else every integer multiple, else the two ends (two significant digits)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi <= lo:
        return []
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    eps = 1e-9 * hi
    ticks: list[float] = []
    for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(float(s) for s in range(1, 10))):
        ticks = [s * 10.0**d for d in range(d0, d1 + 1) for s in subs if lo - eps <= s * 10.0**d <= hi + eps]
        if len(ticks) >= 2:
            break
    if len(ticks) < 2:
        ends = []
        for v, up in ((lo, True), (hi, False)):
            e = math.floor(math.log10(v)) - 1
            r = (math.ceil if up else math.floor)(v / 10.0**e) * 10.0**e
            ends.append(r if lo <= r <= hi else v)
        ticks = sorted(set(ends))
    step = max(1, math.ceil(len(ticks) / 8))  # at most ~8 labelled decades
    return ticks[::step]


def _log_minor(lo: float, hi: float) -> list[float]:
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [s * 10.0**d for d in range(d0, d1 + 1) for s in range(2, 10) if lo <= s * 10.0**d <= hi]


def _set_log_ticks(ax: Axes, which: str, lo: float, hi: float, extra: Sequence[tuple[float, str]] = ()) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    ticks = log_ticks(lo, hi)
    pairs = sorted([(t, _log_tick_label(t)) for t in ticks] + list(extra))
    axis.set_major_locator(FixedLocator([t for t, _ in pairs]))
    axis.set_ticklabels([lab for _, lab in pairs])
    axis.set_minor_locator(FixedLocator(_log_minor(lo, hi)))
    axis.set_minor_formatter(NullFormatter())


def ensure_log_ticks(ax: Axes, axis: str = "both") -> None:
    """Give every log-scaled axis of ``ax`` (``"x"``, ``"y"`` or ``"both"``) at least two labelled
    ticks inside its current limits, plain numbers, minor ticks unlabelled.  Call it when the data
    are drawn (it freezes the limits)."""
    for which in ("x", "y") if axis == "both" else (axis,):
        if getattr(ax, f"get_{which}scale")() != "log":
            continue
        lo, hi = getattr(ax, f"get_{which}lim")()
        getattr(ax, f"set_{which}lim")(lo, hi)
        _set_log_ticks(ax, which, min(lo, hi), max(lo, hi))


@dataclass
class ZeroBand:
    """Where the values a log axis cannot show (``<= 0``) are drawn: a band one decade below the
    smallest positive value, which :func:`mark_zeros_on_log_axis` labels "0" (or "≤ 0").

    ``place`` returns the values with those replaced by ``position`` and counts them (``n``);
    pass ``count=False`` for derived curves (quantile bands) whose points are not values.
    """

    position: float
    n: int = 0
    placed: bool = False
    negative: bool = False

    #: the band sits this factor below the smallest positive value
    GAP = 10.0

    @classmethod
    def below(cls, *columns) -> ZeroBand:
        """The band for the data of ``columns`` (array-likes): one decade under their smallest positive."""
        arrays = [np.asarray(c, dtype=np.float64).ravel() for c in columns]
        vals = np.concatenate(arrays) if arrays else np.array([])
        pos = vals[np.isfinite(vals) & (vals > 0)]
        return cls(position=(float(pos.min()) if pos.size else 1.0) / cls.GAP)

    def place(self, values, *, count: bool = True) -> np.ndarray:
        v = np.array(values, dtype=np.float64, copy=True).ravel()
        low = np.isfinite(v) & (v <= 0)
        if low.any():
            self.placed = True
            self.negative = self.negative or bool((v[low] < 0).any())
            if count:
                self.n += int(low.sum())
        v[low] = self.position
        return v

    @property
    def label(self) -> str:
        return "≤ 0" if self.negative else "0"


def mark_zeros_on_log_axis(ax: Axes, band: ZeroBand, axis: str = "y", *, what: str = "values") -> None:
    """Finish the log ``axis`` (``"x"`` or ``"y"``) of ``ax``: labelled ticks (:func:`ensure_log_ticks`)
    and, when ``band`` holds values, the band itself: shaded, separated by a dashed line, one tick
    labelled "0", and the text "n = K <what> at 0" along the band's outer edge (the values sit on its
    middle line).  Call it after everything is drawn."""
    from matplotlib.transforms import blended_transform_factory

    getattr(ax, f"set_{axis}scale")("log")
    if not band.placed:
        ensure_log_ticks(ax, axis)
        return
    lo, hi = getattr(ax, f"get_{axis}lim")()
    half = math.sqrt(ZeroBand.GAP)
    sep, bottom = band.position * half, band.position / half
    hi = max(hi, band.position * ZeroBand.GAP * 2)
    getattr(ax, f"set_{axis}lim")(bottom, hi)
    _set_log_ticks(ax, axis, sep, hi, extra=[(band.position, band.label)])
    note = f"{n_label(band.n)} {what} at {band.label}" if band.n else f"at {band.label}"
    style = {"color": "0.5", "lw": 0.6, "ls": (0, (4, 2)), "zorder": 0.5}
    if axis == "y":
        ax.axhspan(bottom, sep, color="0.93", zorder=0, lw=0)
        ax.axhline(sep, **style)
        ax.text(0.99, bottom, note, transform=blended_transform_factory(ax.transAxes, ax.transData),
                ha="right", va="bottom", fontsize=MIN_FONT, color="0.3", zorder=4)
    else:
        ax.axvspan(bottom, sep, color="0.93", zorder=0, lw=0)
        ax.axvline(sep, **style)
        ax.text(bottom, 0.99, note, transform=blended_transform_factory(ax.transData, ax.transAxes),
                ha="left", va="top", rotation=90, fontsize=MIN_FONT, color="0.3", zorder=4)


# ---------------------------------------------------------------------------------------------
# bars without a value, legends, crowded category labels


def no_data_bar(ax: Axes, x: float, *, base: float = 0.0, horizontal: bool = False, text: str = NO_DATA,
                rotation: float | None = None, width: float = 0.8):
    """The text ``"no data"`` where a bar at ``x`` would start (at ``base``), along the bar's direction
    unless ``rotation`` is given; the axes' data limits grow to hold ``x``."""
    style = {"fontsize": MIN_FONT, "color": "0.35", "style": "italic", "zorder": 4}
    if horizontal:
        ax.update_datalim([(base, x - width / 2), (base, x + width / 2)])
        return ax.text(base, x, " " + text, ha="left", va="center", rotation=rotation or 0, **style)
    ax.update_datalim([(x - width / 2, base), (x + width / 2, base)])
    rot = 90 if rotation is None else rotation
    return ax.text(x, base, " " + text if rot else text, ha="center", va="bottom", rotation=rot, **style)


def bars_with_no_data(ax: Axes, x, heights, width: float = 0.8, *, base: float = 0.0, horizontal: bool = False,
                      **kwargs) -> int:
    """``ax.bar`` (or ``barh``) of the finite ``heights``; a :func:`no_data_bar` for each NaN one.
    ``kwargs`` go to the bars; ``color``, ``edgecolor``, ``yerr`` and ``xerr`` may hold one entry per bar.
    Returns the number of bars without data."""
    x = np.asarray(x, dtype=np.float64)
    h = np.asarray(heights, dtype=np.float64)
    ok = np.isfinite(h)
    for key in ("color", "edgecolor", "yerr", "xerr"):
        v = kwargs.get(key)
        if isinstance(v, list | tuple | np.ndarray) and np.ndim(v) == 1 and len(v) == len(h):
            kwargs[key] = [c for c, keep in zip(v, ok, strict=True) if keep]
    if horizontal:
        ax.barh(x[ok], h[ok] - base, height=width, left=base, **kwargs)
    else:
        ax.bar(x[ok], h[ok] - base, width=width, bottom=base, **kwargs)
    for xi in x[~ok]:
        no_data_bar(ax, xi, base=base, horizontal=horizontal, width=width)
    return int((~ok).sum())


def legend(ax: Axes, *args, outside: bool = False, **kwargs) -> Legend:
    """A legend at :data:`MIN_FONT`: ``loc="best"`` on a translucent frame, or (``outside``) to the
    right of the axes (``tight_layout`` makes room)."""
    kwargs.setdefault("fontsize", MIN_FONT)
    kwargs.setdefault("framealpha", 0.85)
    if outside:
        kwargs.update(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        kwargs.setdefault("loc", "best")
    return ax.legend(*args, **kwargs)


def _ordinal(k: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def label_every(ax: Axes, axis: str, labels: Sequence[str], *, max_labels: int = 60, fontsize: float = MIN_FONT,
                **kwargs) -> str:
    """Ticks at 0..n-1 on ``axis`` (``"x"`` or ``"y"``) labelled with ``labels``: all of them up to
    ``max_labels``, else every k-th.  Returns ``""`` or a note (``" (every 3rd labelled)"``) for
    the axis label."""
    n = len(labels)
    k = max(1, math.ceil(n / max_labels))
    pos = np.arange(0, n, k)
    set_ticks = ax.set_xticks if axis == "x" else ax.set_yticks
    set_ticks(pos, [str(labels[i]) for i in pos], fontsize=max(fontsize, MIN_FONT), **kwargs)
    return f" (every {_ordinal(k)} of {n} labelled)" if k > 1 else ""
