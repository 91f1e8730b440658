"""What every report's figures share: an off-screen matplotlib figure and an atomic PNG write.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no global
state, safe in Ray workers and tests) and saved at :data:`DPI`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 150


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
