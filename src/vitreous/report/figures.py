"""Saving the plot of a result object (anything with ``plot(ax, ...)``) to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["save_plot"]


def save_plot(
    result: Any, path: str | Path, *args: Any, figsize: tuple[float, float] = (6, 4), dpi: int = 110, **kwargs: Any
) -> Path:
    """``result.plot(ax, *args, **kwargs)`` on a new figure, saved to ``path`` (folder created)."""
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
    finally:
        plt.close(fig)
    return path
