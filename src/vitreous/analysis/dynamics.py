"""Ion dynamics: MSD, trapped vs mobile ions, diffusion coefficient with uncertainty,
Nernst–Einstein and collective conductivity.

- MSD(t) = ⟨|r_i(t0 + t) − r_i(t0)|²⟩ over ions and all time origins, computed per atom
  and direction with the FFT algorithm (Calandrini et al., École thématique SFN 12 (2011)
  201; as in nMOLDYN/MDAnalysis/freud): O(T log T) per atom. Positions are unwrapped; the
  system's centre-of-mass drift is removed frame by frame before the MSD.
- D = slope/6 of the MSD in the diffusive window, where the local log–log slope
  d ln MSD / d ln t is closest to 1 (stated in the result). Uncertainty: the standard error
  over ``n_blocks`` disjoint groups of ions (each group's MSD fitted on the same window).
- Nernst–Einstein: σ = N (z e)² D / (H_R V k_B T) (SYSTEM.md), in S/cm.
- Collective (Einstein–Helfand): σ = lim d/dt ⟨|Σ_i q_i Δr_i(t)|²⟩ / (6 V k_B T), with the
  standard error over disjoint time blocks (large: one collective quantity per trajectory).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vitreous.errors import AnalysisError
from vitreous.units import ANGSTROM3_TO_CM3, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C

__all__ = [
    "DiffusionFit",
    "DynamicsResult",
    "MSDResult",
    "SubdiffusiveWarning",
    "classify_ions",
    "collective_conductivity",
    "fit_diffusion",
    "msd_direct",
    "msd_fft",
    "msd_per_atom",
    "nernst_einstein_S_cm",
]

A2_PER_PS_TO_CM2_PER_S = 1e-16 / 1e-12  # Å²/ps → cm²/s


class SubdiffusiveWarning(UserWarning):
    """The MSD never reaches a diffusive (slope 1 on log–log) regime."""


def msd_fft(x: np.ndarray) -> np.ndarray:
    """All-origins MSD of trajectories ``x`` (T, n, d) by FFT → (T, n) in units of x².

    MSD(m) = S1(m) − 2 S2(m) with S2 the autocorrelation from an FFT and S1 a running sum.
    """
    x = np.asarray(x, dtype=float)
    n_t = x.shape[0]
    r2 = np.sum(x**2, axis=2)  # (T, n)
    r2 = np.vstack([r2, np.zeros((1, r2.shape[1]))])
    total = 2 * r2.sum(axis=0)
    s1 = np.empty((n_t, x.shape[1]))
    q = total.copy()
    for m in range(n_t):
        q = q - r2[m - 1] - r2[n_t - m]
        s1[m] = q / (n_t - m)
    size = 2 * n_t
    f = np.fft.rfft(x, n=size, axis=0)
    ac = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n_t].sum(axis=2)
    s2 = ac / (n_t - np.arange(n_t))[:, None]
    return s1 - 2 * s2


def msd_direct(x: np.ndarray) -> np.ndarray:
    """All-origins MSD by the O(T²) double loop (reference for tests)."""
    x = np.asarray(x, dtype=float)
    n_t = x.shape[0]
    out = np.zeros((n_t, x.shape[1]))
    for m in range(1, n_t):
        d = x[m:] - x[:-m]
        out[m] = np.mean(np.sum(d**2, axis=2), axis=0)
    return out


def _check_times(times_ps: np.ndarray | None) -> float:
    if times_ps is None:
        raise AnalysisError("the trajectory has no frame times", hint="give the frame interval (--frame-interval-ps)")
    t = np.asarray(times_ps, dtype=float)
    if len(t) < 4:
        raise AnalysisError(f"{len(t)} frames are too few for an MSD", hint="store more trajectory frames")
    dt = np.diff(t)
    if np.any(dt <= 0) or np.max(np.abs(dt - dt[0])) > 1e-6 * max(1.0, abs(dt[0])):
        raise AnalysisError(
            "frames are not evenly spaced in time",
            hint="the FFT MSD needs a uniform frame interval; select a uniform part of the run",
        )
    return float(dt[0])


def _com_drift(traj: Any, frames: np.ndarray, chunk: int) -> np.ndarray:
    """Centre-of-mass displacement (F, 3) from the first frame, streamed over atoms."""
    masses = np.asarray(traj.masses, dtype=float)
    total = masses.sum()
    com = np.zeros((len(frames), 3))
    for start in range(0, traj.n_atoms, chunk):
        idx = np.arange(start, min(start + chunk, traj.n_atoms))
        com += np.einsum("fnd,n->fd", traj.positions(frames, idx), masses[idx])
    com /= total
    return com - com[0]


def msd_per_atom(
    traj: Any, atoms: np.ndarray, frames: np.ndarray | None = None, remove_drift: bool = True, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-atom, per-direction MSD of selected atoms, streamed ``chunk`` atoms at a time.

    Returns
    -------
    t_ps : ndarray (T,)
    msd_xyz : ndarray (T, n, 3)
        MSD per atom and direction (Å²).
    drift : ndarray (T, 3)
        The removed centre-of-mass displacement (Å).
    """
    frames = np.arange(len(traj)) if frames is None else np.asarray(frames)
    times = traj.times_ps
    dt = _check_times(None if times is None else np.asarray(times)[frames])
    drift = _com_drift(traj, frames, chunk) if remove_drift else np.zeros((len(frames), 3))
    out = np.empty((len(frames), len(atoms), 3))
    for start in range(0, len(atoms), chunk):
        sel = np.asarray(atoms[start : start + chunk])
        x = traj.positions(frames, sel) - drift[:, None, :]
        for d in range(3):
            out[:, start : start + len(sel), d] = msd_fft(x[:, :, d : d + 1])
    return np.arange(len(frames)) * dt, out, drift


@dataclass
class DiffusionFit:
    """A linear fit MSD = 6 D t + c over a window, with its uncertainty."""

    D_A2_ps: float
    D_err_A2_ps: float
    window_ps: tuple[float, float]
    loglog_slope: float
    subdiffusive: bool
    n_blocks: int

    @property
    def D_cm2_s(self) -> float:
        """D in cm²/s."""
        return self.D_A2_ps * A2_PER_PS_TO_CM2_PER_S

    @property
    def D_err_cm2_s(self) -> float:
        """Standard error of D in cm²/s."""
        return self.D_err_A2_ps * A2_PER_PS_TO_CM2_PER_S

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "D_cm2_s": self.D_cm2_s,
            "D_err_cm2_s": self.D_err_cm2_s,
            "D_A2_ps": self.D_A2_ps,
            "fit_window_ps": list(self.window_ps),
            "loglog_slope": self.loglog_slope,
            "subdiffusive": self.subdiffusive,
            "uncertainty": f"standard error over {self.n_blocks} groups of ions",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiffusionFit:
        """Inverse of :meth:`to_dict`."""
        n_blocks = int(d["uncertainty"].split(" over ")[1].split()[0]) if " over " in d.get("uncertainty", "") else 0
        return cls(
            d["D_A2_ps"],
            d["D_err_cm2_s"] / A2_PER_PS_TO_CM2_PER_S,
            tuple(d["fit_window_ps"]),
            d["loglog_slope"],
            d["subdiffusive"],
            n_blocks,
        )


def _choose_window(t: np.ndarray, msd: np.ndarray) -> tuple[int, int, float]:
    """Fit window [i0, i1): from where the local log–log slope (smoothed over a decade/4)
    first comes within 0.15 of 1 — else the last third of the first half — to half the run
    (beyond it too few time origins remain)."""
    n = len(t)
    i_end = max(3, n // 2)
    good = (t > 0) & (msd > 0)
    lt, lm = np.log(t[good]), np.log(msd[good])
    slope = np.gradient(lm, lt)
    width = max(1, len(slope) // 20)
    slope = np.convolve(slope, np.ones(width) / width, mode="same")
    idx = np.flatnonzero(good)
    candidates = [k for k, i in enumerate(idx) if i < i_end - 2 and abs(slope[k] - 1.0) < 0.15]
    i0 = idx[candidates[0]] if candidates else max(1, i_end - max(3, i_end // 3))
    i0 = min(i0, i_end - 3)
    sel = slice(i0, i_end)
    s = np.polyfit(np.log(t[sel]), np.log(np.maximum(msd[sel], 1e-300)), 1)[0]
    return i0, i_end, float(s)


def fit_diffusion(t_ps: np.ndarray, msd_ions: np.ndarray, n_blocks: int = 10) -> DiffusionFit:
    """D from the per-ion MSD (T, n) in Å²: window by log–log slope on the ion-averaged MSD,
    uncertainty from disjoint groups of ions.

    Warns with :class:`SubdiffusiveWarning` when the slope in the window is below 0.8.
    """
    msd_ions = np.asarray(msd_ions)
    if msd_ions.ndim != 2 or msd_ions.shape[1] == 0:
        raise AnalysisError("no ions to fit")
    mean = msd_ions.mean(axis=1)
    i0, i1, slope = _choose_window(t_ps, mean)
    sel = slice(i0, i1)

    def d_of(m: np.ndarray) -> float:
        return float(np.polyfit(t_ps[sel], m[sel], 1)[0] / 6.0)

    n_ions = msd_ions.shape[1]
    k = max(2, min(n_blocks, n_ions))
    groups = np.array_split(np.arange(n_ions), k)
    ds = np.array([d_of(msd_ions[:, g].mean(axis=1)) for g in groups])
    sizes = np.array([len(g) for g in groups])
    d_mean = d_of(mean)
    # standard error of the mean over groups (weighted by group size)
    var = np.sum(sizes * (ds - np.average(ds, weights=sizes)) ** 2) / (sizes.sum() * (k - 1))
    err = float(np.sqrt(var))
    sub = slope < 0.8
    if sub:
        warnings.warn(
            f"the MSD is sub-diffusive in the fit window (log-log slope {slope:.2f}); D is an upper-bound estimate",
            SubdiffusiveWarning,
            stacklevel=2,
        )
    return DiffusionFit(d_mean, err, (float(t_ps[i0]), float(t_ps[i1 - 1])), slope, sub, k)


def nernst_einstein_S_cm(
    n_ions: int, charge_e: float, D_cm2_s: float, volume_A3: float, temperature_K: float, haven_ratio: float = 1.0
) -> float:
    """σ = N (z e)² D / (H_R V k_B T) in S/cm (D in cm²/s, V in Å³, T in K)."""
    if temperature_K <= 0 or volume_A3 <= 0 or haven_ratio <= 0:
        raise AnalysisError("temperature, volume and Haven ratio must be positive")
    v_cm3 = volume_A3 * ANGSTROM3_TO_CM3
    q = charge_e * ELEMENTARY_CHARGE_C
    return n_ions * q**2 * D_cm2_s / (haven_ratio * v_cm3 * BOLTZMANN_J_K * temperature_K)


def classify_ions(per_ion_msd_A2: np.ndarray, threshold_A2: float) -> np.ndarray:
    """True for mobile ions (final per-ion MSD above the threshold)."""
    return np.asarray(per_ion_msd_A2) > threshold_A2


def collective_conductivity(
    traj: Any, frames: np.ndarray, charges_e: np.ndarray, temperature_K: float, n_blocks: int = 5, chunk: int = 256
) -> dict[str, Any]:
    """Einstein–Helfand conductivity (S/cm) from the charge displacement of all atoms.

    σ = lim d⟨|ΔM(t)|²⟩/dt / (6 V k_B T), M = Σ q_i r_i (COM drift removed), ⟨⟩ over all
    time origins (FFT). The run is cut into ``n_blocks`` disjoint blocks; the lag window is
    chosen (as for D) among lags shorter than half a block, and the **same window** is
    fitted on the whole run (the value) and on each block (the spread). The value is, up to
    origins that straddle block boundaries, the mean of the block estimates, so its
    standard error is std(blocks)/√n_blocks with a Student-t 95 % interval (n_blocks − 1
    degrees of freedom); blocks are independent for a diffusive M. A window cut to half a
    block trades lag length for an error bar that covers (tested on independent random
    walks in ``tests/test_dynamics.py``)."""
    from scipy import stats

    frames = np.asarray(frames)
    dt = _check_times(np.asarray(traj.times_ps)[frames])
    if n_blocks < 2:
        raise AnalysisError(f"the collective σ needs at least 2 blocks, got {n_blocks}")
    drift = _com_drift(traj, frames, chunk)
    m = np.zeros((len(frames), 3))
    for start in range(0, traj.n_atoms, chunk):
        idx = np.arange(start, min(start + chunk, traj.n_atoms))
        x = traj.positions(frames, idx) - drift[:, None, :]
        m += np.einsum("fnd,n->fd", x, charges_e[idx])
    volume = float(np.mean([abs(np.linalg.det(c)) for c in traj.cells(frames)]))
    kt_v = BOLTZMANN_J_K * temperature_K * volume * ANGSTROM3_TO_CM3
    factor = ELEMENTARY_CHARGE_C**2 * A2_PER_PS_TO_CM2_PER_S / (6 * kt_v)  # (e² Å²/ps) → S/cm
    block_len = len(m) // n_blocks
    if block_len < 8:
        raise AnalysisError(
            f"{len(m)} frames make blocks of {block_len} frames: too few for the collective σ",
            hint="store more frames or use fewer blocks",
        )
    t = np.arange(len(m)) * dt
    msd_all = msd_fft(m[:, None, :])[:, 0]
    # window among lags < block_len/2 (the range _choose_window searches)
    i0, i1, _ = _choose_window(t[:block_len], np.maximum(msd_all[:block_len], 1e-12))
    window = slice(i0, i1)

    def slope(msd: np.ndarray) -> float:
        return float(np.polyfit(t[window], msd[window], 1)[0] * factor)

    sigma = slope(msd_all)
    vals = np.array([slope(msd_fft(b[:, None, :] - b[0])[:, 0]) for b in np.array_split(m, n_blocks)])
    err = float(vals.std(ddof=1) / np.sqrt(len(vals)))
    q = float(stats.t.ppf(0.975, len(vals) - 1))
    return {
        "collective_S_cm": sigma,
        "collective_err_S_cm": err,
        "collective_interval_95_S_cm": [sigma - q * err, sigma + q * err],
        "fit_window_ps": [float(t[i0]), float(t[i1 - 1])],
        "uncertainty": f"standard error over {len(vals)} disjoint time blocks fitted on the same lag window; "
        f"95 % interval with Student t ({len(vals) - 1} dof). One collective quantity per run: large.",
    }


@dataclass
class MSDResult:
    """Per-species MSD with per-ion and per-direction parts."""

    t_ps: np.ndarray
    msd_A2: np.ndarray
    msd_xyz_A2: np.ndarray
    per_ion_final_A2: np.ndarray
    per_ion_msd_A2: np.ndarray
    species: str
    indices: np.ndarray
    drift_A: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "t_ps": self.t_ps.tolist(),
            "msd_A2": self.msd_A2.tolist(),
            "msd_xyz_A2": self.msd_xyz_A2.tolist(),
            "species": self.species,
            "com_drift_removed_A": self.drift_A[-1].tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MSDResult:
        """Inverse of :meth:`to_dict`; the per-ion curves are not stored (empty here)."""
        t = np.asarray(d["t_ps"], dtype=float)
        return cls(
            t,
            np.asarray(d["msd_A2"], dtype=float),
            np.asarray(d["msd_xyz_A2"], dtype=float),
            np.zeros(0),
            np.zeros((len(t), 0)),
            d["species"],
            np.zeros(0, dtype=int),
            np.asarray([d.get("com_drift_removed_A", [0.0, 0.0, 0.0])], dtype=float),
        )


@dataclass
class DynamicsResult:
    """MSD, D, conductivity, ion classes and channels of one species in one run."""

    msd: MSDResult
    diffusion: DiffusionFit
    conductivity: dict[str, Any]
    ions: dict[str, Any]
    channels: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON layout of ``vitreous analyze dynamics``."""
        return {
            "msd": self.msd.to_dict(),
            "diffusion": self.diffusion.to_dict(),
            "conductivity": self.conductivity,
            "ions": self.ions,
            "channels": self.channels,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DynamicsResult:
        """Inverse of :meth:`to_dict` (the class-averaged MSDs are in ``ions``)."""
        return cls(
            MSDResult.from_dict(d["msd"]),
            DiffusionFit.from_dict(d["diffusion"]),
            d["conductivity"],
            d["ions"],
            d.get("channels", {}),
            d.get("metadata", {}),
        )

    def plot(self, ax: Any) -> Any:
        """MSD of all ions and of the trapped and mobile classes (log–log) up to half the run
        (longer lags have too few time origins), with the fit window shaded."""
        half = max(2, len(self.msd.t_ps) // 2)
        t = self.msd.t_ps[1:half]
        mobile = np.array(self.ions["mobile_mask"], dtype=bool)
        ax.loglog(t, self.msd.msd_A2[1:half], "k-", lw=2, label="all")
        if self.ions.get("msd_mobile_A2"):
            ax.loglog(t, np.asarray(self.ions["msd_mobile_A2"])[1:half], "r-", label=f"mobile ({mobile.sum()})")
        if self.ions.get("msd_trapped_A2"):
            ax.loglog(t, np.asarray(self.ions["msd_trapped_A2"])[1:half], "b-", label=f"trapped ({(~mobile).sum()})")
        w = self.diffusion.window_ps
        ax.axvspan(w[0], w[1], color="0.9", zorder=0, label="fit window")
        ax.set_xlabel("t (ps)")
        ax.set_ylabel(f"MSD {self.msd.species} (Å²)")
        ax.legend(frameon=False)
        return ax


def _prepeak(traj: Any, frames: np.ndarray, rdf: Any, species: str, n_blocks: int = 5) -> tuple[dict, Any, Any]:
    """Low-k pre-peak of S_{species,species}(k): a local maximum strictly inside
    [max(0.3, 2π/L), 1.6] 1/Å (L the shortest cell width; below 2π/L a finite model has no
    information), with its position and height (above the neighbouring minimum) and their
    standard errors over ``n_blocks`` blocks of frames; ``found`` false when there is none."""
    from vitreous.analysis.rdf import PairDistribution
    from vitreous.analysis.scattering import faber_ziman_partials, find_prepeak

    pair = f"{species}-{species}"
    k = np.arange(0.2, 3.0, 0.01)
    s_k = faber_ziman_partials(rdf, k, lorch=True, pairs=[pair])[pair]
    window = (max(0.3, np.pi / rdf.r_max_A), 1.6)  # r_max = L/2, so 2π/L = π/r_max
    peak = find_prepeak(k, s_k, window)
    out: dict[str, Any] = {"window_inv_A": list(window), "found": peak is not None}
    if peak is None:
        return out | {"note": "no local maximum inside the window"}, k, s_k
    blocks = [b for b in np.array_split(np.asarray(frames), min(n_blocks, len(frames))) if len(b)]
    pos, height = [], []
    for b in blocks if len(blocks) >= 2 else []:
        r_b = PairDistribution(r_max_A=rdf.r_max_A, dr_A=rdf.dr_A, split_valence=False).compute(traj, b)
        s_b = faber_ziman_partials(r_b, k, lorch=True, pairs=[pair])[pair]
        near = (peak["k_inv_A"] - 0.2, peak["k_inv_A"] + 0.2)
        p_b = find_prepeak(k, s_b, (max(window[0], near[0]), min(window[1], near[1])))
        pos.append(np.nan if p_b is None else p_b["k_inv_A"])
        height.append(0.0 if p_b is None else p_b["height"])
    n = len(pos)

    def err(v: list[float]) -> float:
        ok = np.asarray(v)[np.isfinite(v)]
        return float(np.std(ok, ddof=1) / np.sqrt(len(ok))) if len(ok) >= 2 else float("nan")

    spread = {"k_err_inv_A": err(pos), "height_err": err(height), "n_blocks": n}
    return out | peak | spread | {"blocks_without_peak": int(np.sum(np.isnan(pos)))}, k, s_k


def analyze_dynamics(
    traj: Any,
    species: str = "Na",
    frames: np.ndarray | None = None,
    temperature_K: float | None = None,
    haven_ratio: float = 1.0,
    threshold_A2: float | None = None,
    link_A: float | None = None,
    n_blocks: int = 10,
) -> DynamicsResult:
    """MSD, trapped/mobile classes, D, Nernst–Einstein and collective σ, and channels.

    Parameters
    ----------
    traj : trajectory
        Unwrapped positions with uniform frame times (H5MD from the engine, or extxyz with
        ``time_ps`` / a frame interval).
    species : str
        Element of the mobile ions.
    temperature_K : float, optional
        Default: the mean thermostat temperature recorded in an H5MD file.
    haven_ratio : float
        H_R of the Nernst–Einstein relation.
    threshold_A2 : float, optional
        Per-ion MSD separating trapped from mobile ions. Default: the square of the first
        peak position of g(species–O): an ion whose displacement exceeds its own bond length
        to O has left its oxygen cage.
    link_A : float, optional
        Link distance of the site graph for channels; default the first minimum of
        g(species–species).
    """
    from vitreous.analysis.channels import percolation
    from vitreous.analysis.rdf import PairDistribution

    frames = np.arange(len(traj)) if frames is None else np.asarray(frames)
    symbols = np.asarray(traj.symbols)
    ions = np.flatnonzero(symbols == species)
    if ions.size == 0:
        raise AnalysisError(
            f"no {species} atoms in the trajectory", hint=f"elements: {', '.join(sorted(set(symbols)))}"
        )
    if temperature_K is None:
        obs = traj.observables() if hasattr(traj, "observables") else None
        if not obs or len(obs.get("temperature", [])) == 0:
            raise AnalysisError("no temperature recorded in the trajectory", hint="give --temperature-K")
        times = np.asarray(traj.times_ps)[frames]
        within = (obs["time_ps"] >= times[0] - 1e-9) & (obs["time_ps"] <= times[-1] + 1e-9)
        temperature_K = float(np.mean(obs["temperature"][within] if within.any() else obs["temperature"]))
    if temperature_K <= 0:
        raise AnalysisError(f"temperature must be positive, got {temperature_K} K")
    t, msd_xyz, drift = msd_per_atom(traj, ions, frames)
    per_ion = msd_xyz.sum(axis=2)  # (T, n)
    msd_mean = per_ion.mean(axis=1)
    fit = fit_diffusion(t, per_ion, n_blocks)
    volume = float(np.mean([abs(np.linalg.det(c)) for c in traj.cells(frames)]))
    z = float(np.abs(traj.valence[ions[0]])) or 1.0
    sigma_ne = nernst_einstein_S_cm(len(ions), z, fit.D_cm2_s, volume, temperature_K, haven_ratio)
    sigma_ne_err = abs(sigma_ne * fit.D_err_cm2_s / fit.D_cm2_s) if fit.D_cm2_s != 0 else float("nan")
    charges = np.zeros(traj.n_atoms)
    charges[ions] = z
    coll = collective_conductivity(traj, frames, charges, temperature_K)
    # structure of the last frames: cage size, link distance, Na–Na pre-peak
    tail = frames[:: max(1, len(frames) // 50)]  # up to ~50 frames for g(r)
    rdf = PairDistribution(dr_A=0.02, split_valence=False).compute(traj, tail)
    if threshold_A2 is None:
        threshold_A2 = rdf.peaks(f"{species}-O")[0] ** 2 if "O" in rdf.counts else 4.0
        threshold_rule = f"(first peak of g_{species}O)^2"
    else:
        threshold_rule = "given"
    lag = len(t) // 2
    final = per_ion[lag]
    mobile = classify_ions(final, threshold_A2)
    if link_A is None:
        # first minimum of g(ion–ion), not below the ion–O bond length (noise guard)
        r_io = rdf.peaks(f"{species}-O")[0] if "O" in rdf.counts else 2.0
        link_A = min(max(rdf.first_minimum(f"{species}-{species}"), 1.2 * r_io), 0.99 * rdf.r_max_A)
    last = int(frames[-1])
    cell = traj.cells(slice(last, last + 1))[0]
    static = percolation(traj.positions(slice(last, last + 1), ions)[0], cell, link_A)
    visited_pos = traj.positions(frames[:: max(1, len(frames) // 20)], ions[mobile]).reshape(-1, 3)
    visited = percolation(visited_pos, cell, link_A) if len(visited_pos) else None
    prepeak, k, s_nana = _prepeak(traj, tail, rdf, species)
    ions_d = {
        "threshold_A2": float(threshold_A2),
        "threshold_rule": threshold_rule,
        "lag_ps": float(t[lag]),
        "trapped_fraction": float(np.mean(~mobile)),
        "mobile_fraction": float(np.mean(mobile)),
        "per_ion_msd_A2": final.tolist(),
        "indices": ions.tolist(),
        "mobile_mask": mobile.tolist(),
        "msd_trapped_A2": per_ion[:, ~mobile].mean(axis=1).tolist() if (~mobile).any() else [],
        "msd_mobile_A2": per_ion[:, mobile].mean(axis=1).tolist() if mobile.any() else [],
    }
    conductivity = {
        "nernst_einstein_S_cm": sigma_ne,
        "nernst_einstein_err_S_cm": sigma_ne_err,
        "haven_ratio": haven_ratio,
        "temperature_K": temperature_K,
        "volume_A3": volume,
        "n_ions": len(ions),
        "charge_e": z,
        **coll,
        "collective_scope": f"{species} ions only (formal charge {z:g})",
    }
    channels = {
        "link_A": link_A,
        "static": static.to_dict(),
        "visited_by_mobile": visited.to_dict() if visited else None,
        f"S_{species}{species}_prepeak": prepeak | {"k": k.tolist(), "S_k": s_nana.tolist()},
    }
    msd = MSDResult(t, msd_mean, msd_xyz.mean(axis=1), final, per_ion, species, ions, drift)
    meta = {
        "n_frames": len(frames),
        "frame_interval_ps": float(t[1] - t[0]),
        "duration_ps": float(t[-1]),
        "species": species,
        "n_atoms": int(traj.n_atoms),
    }
    return DynamicsResult(msd, fit, conductivity, ions_d, channels, meta)
