"""Partial and total pair distribution functions, running coordination, peaks and minima.

Definitions (SYSTEM.md): ρ0 = N/V, c_a = N_a/N,

    g_ab(r) = V / (N_a N_b) · H_ab(r) / (4π/3 [(r+dr)³ − r³]),

with H_ab the number of ordered (i ∈ a, j ∈ b, i ≠ j) pairs in the shell (Faber–Ziman
normalisation: an ideal gas gives g_aa = (N_a − 1)/N_a, g_ab = 1; see
:meth:`RDFResult.asymptote`). The total
g(r) = Σ_ab c_a c_b g_ab(r) equals V/N² · H(r)/shell for all pairs, and the running
coordination n_ab(R) = 4π ρ0 c_b ∫0^R r² g_ab(r) dr is the mean number of b within R of an
a atom. One histogram per frame over (label pair, bin) from a compiled cell-list kernel
(orthorhombic cells) or vesin's neighbour list (any periodic cell), see
:mod:`vitreous.analysis._pairhist`; histograms are plain sums, so frames can be split across
workers and added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from vitreous.errors import AnalysisError

__all__ = ["PairDistribution", "RDFResult", "max_r_A", "species_labels"]


def max_r_A(cell: np.ndarray) -> float:
    """Half the shortest perpendicular width of a cell (Å): the largest r for g(r)."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    if volume <= 1e-9:
        raise AnalysisError("the structure has no cell volume", hint="periodic cells are needed for g(r)")
    widths = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    return 0.5 * min(widths)


def species_labels(symbols: list[str], valence: np.ndarray | None, split_valence: bool) -> np.ndarray:
    """Per-atom labels: the element, or element+valence (``V4``) for elements present with
    several valences when ``split_valence`` (the rule of :func:`vitreous.composition.species_label`)."""
    from vitreous.composition import Species, species_label

    symbols = np.asarray(symbols)
    if not split_valence or valence is None:
        return symbols
    pairs = list(zip(symbols.tolist(), np.asarray(valence).astype(int).tolist(), strict=True))
    present = sorted({Species(el, v) for el, v in pairs}, key=lambda s: (s.element, s.valence))
    label = {s: species_label(s, present) for s in present}
    return np.array([label[Species(el, v)] for el, v in pairs], dtype=str)


def _pair_key(a: str, b: str) -> str:
    return f"{a}-{b}"


@dataclass
class RDFResult:
    """Frame-averaged pair distributions.

    Attributes
    ----------
    r_A : ndarray
        Bin centres (Å).
    partials : dict
        ``"A-B"`` → g_AB(r) for every ordered label pair (element level, plus
        valence-split labels such as ``"V4-O"`` when present).
    total : ndarray
        Total g(r) (composition-weighted sum of element-level partials).
    counts : dict
        Atoms per label.
    density_A3 : float
        Mean number density ρ0 (1/Å³).
    """

    r_A: np.ndarray
    partials: dict[str, np.ndarray]
    total: np.ndarray
    counts: dict[str, int]
    element_labels: list[str]
    density_A3: float
    volume_A3: float
    n_frames: int
    r_max_A: float
    dr_A: float
    smoothing_A: float = 0.04
    hist: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_atoms(self) -> int:
        """Atoms (element level)."""
        return sum(self.counts[e] for e in self.element_labels)

    def concentration(self, label: str) -> float:
        """c_a = N_a / N."""
        return self.counts[label] / self.n_atoms

    def get(self, pair: str) -> np.ndarray:
        """g for ``"A-B"`` (``"B-A"`` accepted)."""
        if pair in self.partials:
            return self.partials[pair]
        a, _, b = pair.partition("-")
        if f"{b}-{a}" in self.partials:
            return self.partials[f"{b}-{a}"]
        raise AnalysisError(f"no pair '{pair}' in this g(r)", hint=f"pairs: {', '.join(sorted(self.partials))}")

    def asymptote(self, pair: str) -> float:
        """g_ab(r → ∞) of this finite system: 1 − N_{a∩b}/(N_a N_b), where N_{a∩b} counts
        atoms carrying both labels (i ≠ j excludes self pairs): (N_a − 1)/N_a for a like
        pair, 1 − 1/N_V for ``V4-V``, 1 for unlike elements. Transforms must subtract this,
        not 1, or a −1/N_a tail becomes a spurious low-k feature."""
        a, _, b = pair.partition("-")
        if a not in self.counts or b not in self.counts:
            raise AnalysisError(f"no pair '{pair}' in this g(r)", hint=f"labels: {', '.join(sorted(self.counts))}")

        def element(label: str) -> str:
            return label.rstrip("0123456789")

        if a == b:
            overlap = self.counts[a]
        elif element(a) == element(b) and (a == element(a) or b == element(b)):
            overlap = self.counts[a if a != element(a) else b]  # split label within its element
        else:
            overlap = 0
        return 1.0 - overlap / (self.counts[a] * self.counts[b])

    def running_coordination(self, pair: str) -> np.ndarray:
        """n_ab(r) = 4π ρ0 c_b ∫0^r r'² g_ab(r') dr' at the bin upper edges."""
        b = pair.partition("-")[2]
        g = self.get(pair)
        edges_hi = self.r_A + self.dr_A / 2
        edges_lo = self.r_A - self.dr_A / 2
        shell = 4.0 / 3.0 * np.pi * (edges_hi**3 - edges_lo**3)
        return np.cumsum(g * shell) * self.density_A3 * self.concentration(b)

    def _smooth(self, pair: str) -> np.ndarray:
        return gaussian_filter1d(self.get(pair), self.smoothing_A / self.dr_A, mode="nearest")

    def first_minimum(self, pair: str) -> float:
        """Position (Å) of the first minimum after the first peak of the smoothed g_ab.

        The first local minimum with g < 1 after the first peak; where none exists within
        r_max, the deepest point after the first peak. Smoothing: a Gaussian of
        ``smoothing_A`` (stated in the result)."""
        g = self._smooth(pair)
        peaks = self.peaks(pair, smoothed=g)
        if not peaks:
            raise AnalysisError(f"g({pair}) has no peak", hint="too few frames or atoms, or no such pairs")
        start = int(np.searchsorted(self.r_A, peaks[0]))
        mins, _ = find_peaks(-g[start:])
        for m in mins:
            if g[start + m] < 1.0:
                return float(self.r_A[start + m])
        return float(self.r_A[start + int(np.argmin(g[start:]))])

    def peaks(self, pair: str, smoothed: np.ndarray | None = None, min_prominence: float = 0.15) -> list[float]:
        """Positions (Å) of the maxima of the smoothed g_ab above 1 with a prominence of at
        least ``min_prominence`` × the highest peak, in increasing r."""
        g = self._smooth(pair) if smoothed is None else smoothed
        if not np.any(g > 1.0):
            return []
        idx, _ = find_peaks(g, height=1.0, prominence=min_prominence * (g.max() - 1.0))
        return [float(self.r_A[i]) for i in idx]

    def bond_lengths(self, pair: str) -> list[float]:
        """First-shell peak positions (Å): every peak before the first minimum (e.g. the
        short V=O and the long V–O peaks of g_VO when both are resolved)."""
        r_min = self.first_minimum(pair)
        return [p for p in self.peaks(pair) if p < r_min]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "r": self.r_A.tolist(),
            "total": self.total.tolist(),
            "partials": {k: v.tolist() for k, v in self.partials.items()},
            "counts": self.counts,
            "density_A3": self.density_A3,
            "volume_A3": self.volume_A3,
            "n_frames": self.n_frames,
            "r_max_A": self.r_max_A,
            "dr_A": self.dr_A,
            "smoothing_A": self.smoothing_A,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RDFResult:
        """Inverse of :meth:`to_dict`."""
        labels = sorted({k.split("-")[0] for k in d["partials"]})
        elements = [lab for lab in labels if not lab[-1].isdigit()]
        return cls(
            np.array(d["r"]),
            {k: np.array(v) for k, v in d["partials"].items()},
            np.array(d["total"]),
            d["counts"],
            elements,
            d["density_A3"],
            d["volume_A3"],
            d["n_frames"],
            d["r_max_A"],
            d["dr_A"],
            d.get("smoothing_A", 0.04),
        )

    def plot(self, ax: Any, pairs: list[str] | None = None) -> Any:
        """Plot the total and chosen partials on a matplotlib axis."""
        ax.plot(self.r_A, self.total, "k-", lw=1.5, label="total")
        for p in pairs or []:
            ax.plot(self.r_A, self.get(p), lw=1, label=p)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.legend(frameon=False)
        return ax


class PairDistribution:
    """All partial g_ab(r) averaged over frames.

    Parameters
    ----------
    r_max_A : float, optional
        Largest distance (Å); default and upper limit: half the shortest perpendicular
        width of the smallest cell among the frames.
    dr_A : float
        Bin width (Å).
    split_valence : bool
        Also give partials for valence-split labels (``V4``, ``V5``).

    Examples
    --------
    >>> rdf = PairDistribution(dr_A=0.01).compute(traj)      # doctest: +SKIP
    >>> rdf.first_minimum("V-O"), rdf.bond_lengths("V-O")     # doctest: +SKIP
    """

    def __init__(self, r_max_A: float | None = None, dr_A: float = 0.01, split_valence: bool = True) -> None:
        if dr_A <= 0:
            raise AnalysisError(f"bin width must be positive, got {dr_A} Å")
        if r_max_A is not None and r_max_A <= 0:
            raise AnalysisError(f"r_max must be positive, got {r_max_A} Å")
        self.r_max_A = r_max_A
        self.dr_A = dr_A
        self.split_valence = split_valence

    def compute(self, traj: Any, frames: np.ndarray | None = None) -> RDFResult:
        """Accumulate over ``frames`` (default all) of a trajectory (see
        :func:`vitreous.io.trajectory.open_trajectory`) and return the averages."""
        from vitreous.analysis._pairhist import pair_histogram

        frames = np.arange(len(traj)) if frames is None else np.asarray(frames)
        if frames.size == 0:
            raise AnalysisError("no frames selected")
        cells = traj.cells(frames)
        limit = min(max_r_A(c) for c in cells)
        r_max = self.r_max_A if self.r_max_A is not None else limit
        if r_max > limit + 1e-9:
            raise AnalysisError(
                f"r_max {r_max:.3f} Å is beyond half the shortest cell width ({limit:.3f} Å)",
                hint="lower r_max (--r-max-A) or use a larger model",
            )
        nbins = int(np.floor(r_max / self.dr_A + 1e-9))
        edges = np.arange(nbins + 1) * self.dr_A
        r_max = float(edges[-1])
        symbols = np.asarray(traj.symbols)
        elements = list(dict.fromkeys(symbols.tolist()))
        # one histogram per frame over the finest labels (element, or element+valence where
        # an element comes with several valences); every partial is a sum of its blocks
        fine = species_labels(symbols, traj.valence, True) if self.split_valence else symbols
        fine_labels = list(dict.fromkeys(np.asarray(fine).tolist()))
        fine_of = np.array([fine_labels.index(x) for x in np.asarray(fine).tolist()], dtype=np.int64)
        element_of_fine = [str(symbols[np.flatnonzero(fine_of == f)[0]]) for f in range(len(fine_labels))]
        split = [lab for lab in fine_labels if lab not in elements]
        counts = {e: int(np.sum(symbols == e)) for e in elements}
        counts.update({lab: int(np.sum(fine_of == fine_labels.index(lab))) for lab in split})
        members = {e: [f for f in range(len(fine_labels)) if element_of_fine[f] == e] for e in elements}
        members.update({lab: [fine_labels.index(lab)] for lab in split})
        keys = [(a, b) for a in elements for b in elements]
        keys += [(a, b) for a in split for b in split]
        keys += [pair for a in split for b in elements for pair in ((a, b), (b, a))]

        shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        sums: dict[str, np.ndarray] = {}
        hist_total: dict[str, np.ndarray] = {}
        volumes = []
        for f in frames:
            cell = traj.cells(slice(int(f), int(f) + 1))[0]
            pos = traj.positions(slice(int(f), int(f) + 1))[0]
            volume = abs(np.linalg.det(cell))
            volumes.append(volume)
            h = pair_histogram(pos, cell, fine_of, len(fine_labels), r_max, self.dr_A)
            h = h + h.transpose(1, 0, 2)  # ordered pairs, both directions
            for a, b in keys:
                hab = h[np.ix_(members[a], members[b])].sum(axis=(0, 1))
                key = _pair_key(a, b)
                sums[key] = sums.get(key, 0) + hab * (volume / (counts[a] * counts[b] * shell))
                hist_total[key] = hist_total.get(key, 0) + hab
        n = len(frames)
        partials = {k: np.asarray(v, dtype=float) / n for k, v in sums.items()}
        n_atoms = len(symbols)
        total = np.zeros(nbins)
        for a in elements:
            for b2 in elements:
                total += counts[a] * counts[b2] / n_atoms**2 * partials[_pair_key(a, b2)]
        vol = float(np.mean(volumes))
        return RDFResult(
            r_A=0.5 * (edges[1:] + edges[:-1]),
            partials=partials,
            total=total,
            counts=counts,
            element_labels=elements,
            density_A3=n_atoms / vol,
            volume_A3=vol,
            n_frames=n,
            r_max_A=r_max,
            dr_A=self.dr_A,
            hist={k: np.asarray(v) for k, v in hist_total.items()},
        )
