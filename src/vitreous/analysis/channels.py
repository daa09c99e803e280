"""Na-rich regions and percolation: a periodic graph of sites linked within a distance.

Sites are Na positions (one frame, or several frames pooled to map the sites that ions
visit). Two sites are linked when closer than ``link_A`` (minimum image). Clusters are the
connected components; a cluster percolates along axis a when, walking its links with their
periodic image shifts, some site is reached with two different cell offsets along a (a
loop that winds around the box), i.e. the cluster spans the cell in that direction.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from vitreous.errors import AnalysisError

__all__ = ["ChannelResult", "percolation"]


@dataclass
class ChannelResult:
    """Clusters of linked sites and their percolation."""

    link_A: float
    n_sites: int
    cluster_sizes: list[int]
    percolating_axes: list[list[str]]
    labels: np.ndarray

    @property
    def percolates(self) -> bool:
        """Whether any cluster spans the cell."""
        return any(self.percolating_axes)

    @property
    def largest_fraction(self) -> float:
        """Fraction of sites in the largest cluster."""
        return max(self.cluster_sizes) / self.n_sites if self.cluster_sizes else 0.0

    @property
    def percolating_fraction(self) -> float:
        """Fraction of sites in percolating clusters."""
        return sum(s for s, ax in zip(self.cluster_sizes, self.percolating_axes, strict=True) if ax) / self.n_sites

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "link_A": self.link_A,
            "n_sites": self.n_sites,
            "n_clusters": len(self.cluster_sizes),
            "largest_cluster_fraction": self.largest_fraction,
            "percolates": self.percolates,
            "percolating_fraction": self.percolating_fraction,
            "percolating_axes": sorted({a for ax in self.percolating_axes for a in ax}),
            "cluster_sizes": sorted(self.cluster_sizes, reverse=True)[:20],
            "clusters": [
                {"size": s, "axes": ax} for s, ax in zip(self.cluster_sizes, self.percolating_axes, strict=True)
            ],
            "labels": np.asarray(self.labels).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChannelResult:
        """Inverse of :meth:`to_dict`."""
        clusters = d["clusters"]
        return cls(
            d["link_A"],
            d["n_sites"],
            [c["size"] for c in clusters],
            [list(c["axes"]) for c in clusters],
            np.asarray(d["labels"], dtype=int),
        )


def percolation(positions: np.ndarray, cell: np.ndarray, link_A: float) -> ChannelResult:
    """Clusters and percolation of sites at ``positions`` (n, 3) in a periodic ``cell``.

    Raises
    ------
    AnalysisError
        When ``link_A`` is not positive or reaches half the cell width (a site would link to
        its own image).
    """
    from vesin import NeighborList

    from vitreous.analysis.rdf import max_r_A

    if link_A <= 0:
        raise AnalysisError(f"link distance must be positive, got {link_A} Å")
    if link_A >= max_r_A(cell):
        raise AnalysisError(f"link distance {link_A} Å reaches half the cell width", hint="use a larger cell")
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    if n == 0:
        return ChannelResult(link_A, 0, [], [], np.empty(0, dtype=int))
    nl = NeighborList(cutoff=link_A, full_list=True)
    i, j, shifts = nl.compute(points=positions, box=cell, periodic=True, quantities="ijS")
    order = np.argsort(i, kind="stable")
    i, j, shifts = i[order], j[order], shifts[order]
    starts = np.searchsorted(i, np.arange(n + 1))
    labels = -np.ones(n, dtype=int)
    offset = np.zeros((n, 3), dtype=np.int64)
    sizes: list[int] = []
    axes: list[list[str]] = []
    for seed in range(n):
        if labels[seed] >= 0:
            continue
        cid = len(sizes)
        labels[seed] = cid
        offset[seed] = 0
        wound = np.zeros(3, dtype=bool)
        queue = deque([seed])
        count = 0
        while queue:
            a = queue.popleft()
            count += 1
            for k in range(starts[a], starts[a + 1]):
                b = j[k]
                # vesin: vector a→b = r_b − r_a + S·cell, so b sits in image offset[a] + S
                target = offset[a] + shifts[k]
                if labels[b] < 0:
                    labels[b] = cid
                    offset[b] = target
                    queue.append(b)
                else:
                    wound |= target != offset[b]
        sizes.append(count)
        axes.append([ax for ax, w in zip("abc", wound, strict=True) if w])
    return ChannelResult(link_A, n, sizes, axes, labels)
