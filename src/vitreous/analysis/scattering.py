"""Structure factors and real-space functions (Faber–Ziman; formulas in SYSTEM.md).

- S_ab(k) = 1 + 4π ρ0 ∫0^rmax r² [g_ab(r) − g_ab(∞)] sin(kr)/(kr) M(r) dr, M the Lorch
  window sin(πr/rmax)/(πr/rmax) or 1; g_ab(∞) = 1 − δ_ab/N_a in a finite model
  (:meth:`RDFResult.asymptote`).
- S(k) − 1 = Σ_ab c_a c_b w_a w_b [S_ab(k) − 1] / (Σ_a c_a w_a)², with w = f(k) (X-ray
  atomic form factors of neutral atoms, xraylib ``FF_Rayl`` at s = k/4π) or b_c (neutron
  coherent scattering lengths, Sears 1992); sources in ``data/scattering.toml``.
- G(r) = (2/π) ∫0^kmax k [S(k) − 1] sin(kr) M(k) dk, M(k) = sin(πk/kmax)/(πk/kmax) (Lorch)
  or 1; T(r) = G(r) + 4π ρ0 r.
- Direct route for checks: with ρ_a(k) = Σ_{i∈a} exp(i k·r_i) over k commensurate with the
  cell, S_ab(k) = 1 + [⟨ρ_a ρ_b*⟩/N − c_a δ_ab] / (c_a c_b), spherically averaged in k bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

import numpy as np

from vitreous.analysis.rdf import RDFResult
from vitreous.errors import AnalysisError

__all__ = [
    "Radiation",
    "StructureFactor",
    "direct_partials",
    "faber_ziman_partials",
    "find_prepeak",
    "neutron_b_c_fm",
    "reduced_pdf",
    "scattering_data_sources",
    "scattering_weights",
    "total_from_partials",
    "total_structure_factor",
]

Radiation = Literal["xray", "neutron"]
#: the radiations, for validation and help texts
RADIATIONS: tuple[str, ...] = get_args(Radiation)


@cache
def _scattering_table() -> dict[str, Any]:
    import tomllib
    from importlib import resources

    return tomllib.loads(resources.files("vitreous.data").joinpath("scattering.toml").read_text())


def scattering_data_sources() -> dict[str, str]:
    """The sources of the neutron b_c and X-ray f(k) used (``data/scattering.toml``)."""
    t = _scattering_table()
    return {"neutron_b_c": t["neutron"]["source"], "xray_form_factor": t["xray"]["source"]}


def neutron_b_c_fm(element: str) -> float:
    """Bound coherent scattering length b_c (fm) of a natural element: Sears 1992 (the NIST
    table), from ``data/scattering.toml``."""
    table = _scattering_table()["neutron"]["b_c_fm"]
    if element not in table:
        raise AnalysisError(
            f"no neutron scattering length for {element} in data/scattering.toml",
            hint=f"tabulated: {', '.join(sorted(table))}; add it with its source",
        )
    return float(table[element])


def scattering_weights(elements: list[str], k: np.ndarray, radiation: Radiation) -> dict[str, np.ndarray]:
    """Weights w_a(k): X-ray form factors (electrons) or neutron b_c (fm), per element."""
    from ase.data import atomic_numbers

    k = np.asarray(k, dtype=float)
    if radiation == "xray":
        import xraylib

        q = k / (4 * np.pi)  # xraylib's momentum transfer sin(θ)/λ in 1/Å
        return {e: np.array([xraylib.FF_Rayl(atomic_numbers[e], float(x)) for x in q]) for e in elements}
    if radiation == "neutron":
        return {e: np.full_like(k, neutron_b_c_fm(e)) for e in elements}
    raise AnalysisError(f"unknown radiation '{radiation}'", hint="xray or neutron")


def _window(x: np.ndarray, x_max: float, lorch: bool) -> np.ndarray:
    if not lorch:
        return np.ones_like(x)
    return np.sinc(x / x_max)  # numpy sinc(y) = sin(πy)/(πy)


def faber_ziman_partials(
    rdf: RDFResult, k: np.ndarray, lorch: bool = True, pairs: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Faber–Ziman partials S_ab(k) by the sine transform of g_ab(r) (element pairs a ≤ b
    in order of appearance unless ``pairs`` are named)."""
    k = np.asarray(k, dtype=float)
    if np.any(k <= 0):
        raise AnalysisError("k must be positive (1/Å)")
    r, dr = rdf.r_A, rdf.dr_A
    m = _window(r, rdf.r_max_A, lorch)
    kr = np.outer(k, r)
    kernel = np.sin(kr) / kr * (r**2 * m * dr)  # (K, R)
    els = rdf.element_labels
    if pairs is None:
        pairs = [f"{a}-{b}" for i, a in enumerate(els) for b in els[i:]]
    # subtract the finite-system asymptote g_ab(∞) (RDFResult.asymptote), not 1: for like
    # pairs the −1/N_a offset would otherwise transform into a spurious low-k feature
    return {p: 1.0 + 4 * np.pi * rdf.density_A3 * kernel @ (rdf.get(p) - rdf.asymptote(p)) for p in pairs}


def total_from_partials(
    partials: dict[str, np.ndarray], concentrations: dict[str, float], weights: dict[str, np.ndarray]
) -> np.ndarray:
    """S(k) − 1 = Σ_ab c_a c_b w_a w_b [S_ab − 1] / (Σ c_a w_a)² (both orders of a ≠ b)."""
    els = list(concentrations)
    mean_w = sum(concentrations[e] * weights[e] for e in els)
    s = 0.0
    for a in els:
        for b in els:
            key = f"{a}-{b}" if f"{a}-{b}" in partials else f"{b}-{a}"
            s = s + concentrations[a] * concentrations[b] * weights[a] * weights[b] * (partials[key] - 1.0)
    return 1.0 + s / mean_w**2


def find_prepeak(
    k: np.ndarray, S: np.ndarray, window_inv_A: tuple[float, float], min_height: float = 0.0
) -> dict[str, float] | None:
    """The highest local maximum of S(k) inside ``window_inv_A`` (1/Å), or None.

    Only S(k) inside the window is looked at: a maximum needs a lower neighbour on each side
    within the window, so a point at its edge, or one whose neighbour lies below it (below
    2π/L a finite model has no information), is not a peak. ``height`` is the peak's
    prominence within the window: its rise above the higher of the two neighbouring minima
    (``scipy.signal.find_peaks``). Peaks no higher than ``min_height`` are ignored.
    """
    from scipy.signal import find_peaks

    k = np.asarray(k, dtype=float)
    S = np.asarray(S, dtype=float)
    lo, hi = window_inv_A
    sel = np.flatnonzero((k >= lo) & (k <= hi))
    if len(sel) < 3:
        return None
    idx, props = find_peaks(S[sel], prominence=0.0)
    keep = props["prominences"] > min_height
    if not keep.any():
        return None
    best = int(np.argmax(np.where(keep, S[sel][idx], -np.inf)))
    i = int(sel[idx[best]])
    return {"k_inv_A": float(k[i]), "S": float(S[i]), "height": float(props["prominences"][best])}


@dataclass
class StructureFactor:
    """A total structure factor with its metadata."""

    k_inv_A: np.ndarray
    S: np.ndarray
    radiation: str
    lorch: bool
    partials: dict[str, np.ndarray]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"k": self.k_inv_A.tolist(), "S": self.S.tolist(), "radiation": self.radiation, "lorch": self.lorch}

    @classmethod
    def from_dict(cls, d: dict[str, Any], partials: dict[str, Any] | None = None) -> StructureFactor:
        """Inverse of :meth:`to_dict`; the Faber–Ziman partials (stored once per structure,
        they do not depend on the radiation) may be given as ``{"k": ..., pair: S_ab}``."""
        parts = {k: np.asarray(v) for k, v in (partials or {}).items() if k != "k"}
        return cls(np.asarray(d["k"], dtype=float), np.asarray(d["S"], dtype=float), d["radiation"], d["lorch"], parts)

    def plot(self, ax: Any, **kw: Any) -> Any:
        """Plot S(k)."""
        ax.plot(self.k_inv_A, self.S, **kw)
        ax.set_xlabel("k (1/Å)")
        ax.set_ylabel("S(k)")
        return ax


def total_structure_factor(
    rdf: RDFResult, k: np.ndarray, radiation: Radiation = "xray", lorch: bool = True
) -> StructureFactor:
    """Total X-ray or neutron S(k) from the partial g_ab(r) of ``rdf``."""
    k = np.asarray(k, dtype=float)
    parts = faber_ziman_partials(rdf, k, lorch)
    conc = {e: rdf.concentration(e) for e in rdf.element_labels}
    w = scattering_weights(rdf.element_labels, k, radiation)
    return StructureFactor(k, total_from_partials(parts, conc, w), radiation, lorch, parts)


def reduced_pdf(
    k: np.ndarray, S: np.ndarray, r: np.ndarray, k_max: float | None = None, lorch: bool = True
) -> np.ndarray:
    """G(r) = (2/π) ∫0^kmax k [S(k) − 1] sin(kr) M(k) dk on a uniform k grid (trapezoid)."""
    k = np.asarray(k, dtype=float)
    S = np.asarray(S, dtype=float)
    k_max = float(k[-1]) if k_max is None else float(k_max)
    sel = k <= k_max + 1e-12
    kk, ss = k[sel], S[sel]
    m = _window(kk, k_max, lorch)
    integrand = (kk * (ss - 1.0) * m)[None, :] * np.sin(np.outer(r, kk))
    return 2.0 / np.pi * np.trapezoid(integrand, kk, axis=1)


def _commensurate_kvectors(cell: np.ndarray, k_max: float, max_vectors: int, rng: np.random.Generator) -> np.ndarray:
    recip = 2 * np.pi * np.linalg.inv(cell).T  # rows b_i with a_i·b_j = 2π δ_ij
    n_max = np.ceil(k_max / np.linalg.norm(recip, axis=1)).astype(int)
    grids = np.meshgrid(*[np.arange(-n, n + 1) for n in n_max], indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    # one of each ±k pair (S is even in k), no k = 0
    first = np.argmax(hkl != 0, axis=1)
    sign = hkl[np.arange(len(hkl)), first]
    hkl = hkl[(np.any(hkl != 0, axis=1)) & (sign > 0)]
    kv = hkl @ recip
    kn = np.linalg.norm(kv, axis=1)
    kv = kv[kn <= k_max]
    if len(kv) > max_vectors:
        kv = kv[rng.choice(len(kv), max_vectors, replace=False)]
    return kv


def direct_partials(
    traj: Any,
    frames: np.ndarray,
    k_bins: np.ndarray,
    max_vectors: int = 20000,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Faber–Ziman partials from k-vectors commensurate with the cell (small systems).

    Returns the mean |k| of each non-empty bin and {"A-B": S_AB(k)} averaged over frames
    and over the k-vectors of each bin. Cost O(N × n_k) per frame.
    """
    rng = np.random.default_rng(seed)
    symbols = np.asarray(traj.symbols)
    els = list(dict.fromkeys(symbols))
    n = len(symbols)
    conc = {e: np.mean(symbols == e) for e in els}
    sums: dict[str, np.ndarray] = {}
    nb = len(k_bins) - 1
    kcount = np.zeros(nb)
    ksum = np.zeros(nb)
    for f in frames:
        sl = slice(int(f), int(f) + 1)
        cell = traj.cells(sl)[0]
        pos = traj.positions(sl)[0]
        kv = _commensurate_kvectors(cell, float(k_bins[-1]), max_vectors, rng)
        kn = np.linalg.norm(kv, axis=1)
        idx = np.digitize(kn, k_bins) - 1
        ok = (idx >= 0) & (idx < nb)
        kv, kn, idx = kv[ok], kn[ok], idx[ok]
        rho = {}
        for e in els:
            phase = pos[symbols == e] @ kv.T  # (n_e, K)
            rho[e] = np.exp(1j * phase).sum(axis=0)
        kcount += np.bincount(idx, minlength=nb)
        ksum += np.bincount(idx, weights=kn, minlength=nb)
        for i, a in enumerate(els):
            for b in els[i:]:
                val = (rho[a] * np.conj(rho[b])).real / n
                sums[f"{a}-{b}"] = sums.get(f"{a}-{b}", 0) + np.bincount(idx, weights=val, minlength=nb)
    good = kcount > 0
    out = {}
    for key, s in sums.items():
        a, b = key.split("-")
        mean = s[good] / kcount[good]
        out[key] = 1.0 + (mean - (conc[a] if a == b else 0.0)) / (conc[a] * conc[b])
    return ksum[good] / kcount[good], out
