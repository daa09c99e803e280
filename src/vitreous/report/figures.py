"""Writing the plots of result objects (anything with ``plot(ax, ...)``) to files: the one
place figures are saved, for the CLI, the study tasks and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["save_plot", "save_plots"]


def save_plot(
    result: Any,
    path: str | Path,
    *args: Any,
    figsize: tuple[float, float] = (6, 4),
    dpi: int = 110,
    svg: bool = False,
    **kwargs: Any,
) -> Path:
    """``result.plot(ax, *args, **kwargs)`` on a new figure, saved to ``path`` (folder
    created; with ``svg`` also beside it as SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=figsize)
    try:
        result.plot(ax, *args, **kwargs)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
        if svg:
            fig.savefig(path.with_suffix(".svg"))
    finally:
        plt.close(fig)
    return path


def save_plots(
    result: Any, folder: str | Path, names: list[str] | None = None, prefix: str = "", **kwargs: Any
) -> dict[str, Path]:
    """Every named plot of ``result`` (``result.plot_names()``, or ``names``) as
    ``folder/{prefix}{name}.png``; returns {name: path}."""
    return {
        name: save_plot(result, Path(folder) / f"{prefix}{name}.png", name, **kwargs)
        for name in (names or result.plot_names())
    }
