"""The whole structure analysis of a trajectory: g(r), coordination and units, BO/NBO, Qn,
bond valence, X-ray and neutron S(k), G(r), T(r) (Rw against an experiment: vitreous.experiment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vitreous.analysis.network import NetworkResult, network_analysis
from vitreous.analysis.rdf import PairDistribution, RDFResult
from vitreous.analysis.scattering import (
    StructureFactor,
    faber_ziman_partials,
    neutron_b_c_fm,
    reduced_pdf,
    scattering_data_sources,
    total_structure_factor,
)
from vitreous.errors import AnalysisError

__all__ = ["StructureResult", "analyze_structure"]


@dataclass
class StructureResult:
    """Everything :func:`analyze_structure` computes: ``to_dict``/``from_dict`` in the
    documented JSON layout and the named plots of :meth:`plot` (files are written by
    :func:`vitreous.report.figures.save_plots`)."""

    rdf: RDFResult
    network: NetworkResult
    bond_lengths_A: dict[str, list[float]]
    xray: StructureFactor
    neutron: StructureFactor
    na_partials: dict[str, np.ndarray]
    real_space: dict[str, Any]
    experiment: Any = None  # a measured curve (x, y, source), set by vitreous.experiment.compare_structure
    rw: float | None = None
    rw_quantity: str | None = None
    rw_radiation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with keys rdf, coordination, bond_lengths_A, oxygen, qn,
        bond_valence, structure_factor, real_space, [rw_percent]."""
        net = self.network.to_dict()
        out = {
            "rdf": self.rdf.to_dict(),
            "coordination": net["coordination"],
            "bond_lengths_A": self.bond_lengths_A,
            "oxygen": net["oxygen"],
            "qn": net["qn"],
            "bond_valence": net["bond_valence"],
            "structure_factor": {
                "xray": self.xray.to_dict(),
                "neutron": self.neutron.to_dict(),
                "partials": {"k": self.xray.k_inv_A.tolist(), **{k: v.tolist() for k, v in self.xray.partials.items()}},
            },
            "real_space": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.real_space.items()},
            "network": {"cutoffs_A": net["cutoffs_A"], "formers": net["formers"], "n_frames": net["n_frames"]},
            "metadata": self.metadata,
        }
        if self.rw is not None:
            out["rw_percent"] = self.rw
            out["experiment"] = {
                "quantity": self.rw_quantity,
                "radiation": self.rw_radiation,
                "source": self.experiment.source if self.experiment else None,
            }
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StructureResult:
        """Inverse of :meth:`to_dict`. The measured curve itself is not in the JSON (only its
        source, quantity, radiation and Rw), nor the Na partials of the pre-peak search."""
        parts = d["structure_factor"].get("partials")
        net = {
            "coordination": d["coordination"],
            "oxygen": d["oxygen"],
            "qn": d["qn"],
            "bond_valence": d.get("bond_valence", {}),
            **d.get("network", {}),
        }
        exp = d.get("experiment") or {}
        return cls(
            rdf=RDFResult.from_dict(d["rdf"]),
            network=NetworkResult.from_dict(net),
            bond_lengths_A=d["bond_lengths_A"],
            xray=StructureFactor.from_dict(d["structure_factor"]["xray"], parts),
            neutron=StructureFactor.from_dict(d["structure_factor"]["neutron"], parts),
            na_partials={},
            real_space={k: (np.asarray(v) if isinstance(v, list) else v) for k, v in d["real_space"].items()},
            rw=d.get("rw_percent"),
            rw_quantity=exp.get("quantity"),
            rw_radiation=exp.get("radiation"),
            metadata=d.get("metadata", {}),
        )

    #: the named plots of :meth:`plot`
    PLOTS = ("gr", "gVO", "vo_units", "sk", "Gr", "experiment_fit")

    def plot_names(self) -> list[str]:
        """The plots this result can draw (g_VO and VO_l need V; the fit needs a measured curve)."""
        has_v = "V-O" in self.rdf.partials
        return [
            n
            for n in self.PLOTS
            if (n not in ("gVO", "vo_units") or has_v) and (n != "experiment_fit" or self.experiment is not None)
        ]

    def plot(self, ax: Any, name: str = "sk") -> Any:
        """One named plot on ``ax``: ``gr`` (total and cation–O partials), ``gVO`` (g_VO with
        its running coordination), ``vo_units`` (VO_l distribution), ``sk`` (X-ray and neutron
        S(k)), ``Gr`` (G(r) from S(k) and from g(r)), ``experiment_fit`` (model and measured
        curve)."""
        if name not in self.plot_names():
            raise AnalysisError(f"no plot '{name}' for this result", hint=f"one of: {', '.join(self.plot_names())}")
        if name == "gr":
            self.rdf.plot(ax, [p for p in ("V-O", "P-O", "Na-O", "O-O") if p in self.rdf.partials])
        elif name == "gVO":
            for p in ("V-O", "V4-O", "V5-O"):
                if p in self.rdf.partials:
                    ax.plot(self.rdf.r_A, self.rdf.get(p), label=p)
            ax2 = ax.twinx()
            ax2.plot(self.rdf.r_A, self.rdf.running_coordination("V-O"), "k--", lw=1, label="n_VO(r)")
            ax2.set_ylim(0, 8)
            ax2.set_ylabel("n_VO(r)")
            ax.set_xlim(1.2, 4)
            ax.set_xlabel("r (Å)")
            ax.set_ylabel("g_VO(r)")
            ax.legend(frameon=False)
        elif name == "vo_units":
            self.network.plot(ax, "V-O")
        elif name == "sk":
            self.xray.plot(ax, label="X-ray")
            self.neutron.plot(ax, label="neutron")
            if self.experiment is not None and self.rw_quantity == "S":
                ax.plot(self.experiment.x, self.experiment.y, "k.", ms=2, label=f"experiment (Rw {self.rw:.1f} %)")
            ax.legend(frameon=False)
        elif name == "Gr":
            rs, kmax = self.real_space, self.real_space["k_max"]
            ax.plot(rs["r"], rs["G"], label=f"X-ray, from S(k) (kmax {kmax:g} 1/Å)")
            ax.plot(rs["r"], rs["G_neutron"], label=f"neutron, from S(k) (kmax {kmax:g} 1/Å)")
            ax.plot(rs["r"], rs["G_from_gr"], "k--", lw=0.8, label="neutron, from g(r)")
            if self.experiment is not None and self.rw_quantity in ("G", "T"):
                ax.plot(self.experiment.x, self.experiment.y, "k.", ms=2, label=f"experiment (Rw {self.rw:.1f} %)")
            ax.set_xlabel("r (Å)")
            ax.set_ylabel("G(r) (1/Å²)")
            ax.legend(frameon=False)
        else:
            xm, ym = self.model_curve(self.rw_quantity, self.rw_radiation)
            ax.plot(self.experiment.x, self.experiment.y, "k.", ms=2, label="experiment")
            ax.plot(xm, ym, "r-", label=f"model (Rw {self.rw:.1f} %)")
            resid = self.experiment.y - np.interp(self.experiment.x, xm, ym)
            ax.plot(self.experiment.x, resid - 0.5 * np.ptp(self.experiment.y), "b-", lw=0.8, label="residual (offset)")
            ax.set_xlabel("k (1/Å)" if self.rw_quantity == "S" else "r (Å)")
            ax.legend(frameon=False)
        return ax

    def model_curve(self, quantity: str | None, radiation: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The model's S(k) (x in 1/Å) or G(r)/T(r) (x in Å) for ``radiation`` (xray or neutron)."""
        sf = self.xray if radiation == "xray" else self.neutron
        if quantity == "S":
            return sf.k_inv_A, sf.S
        rs = self.real_space
        key = "G" if quantity == "G" else "T"
        return np.asarray(rs["r"]), np.asarray(rs[key] if radiation == "xray" else rs[f"{key}_neutron"])


def analyze_structure(
    traj: Any,
    frames: np.ndarray | None = None,
    cutoffs: dict[tuple[str, str], float] | None = None,
    r_max_A: float | None = None,
    dr_A: float = 0.01,
    k_inv_A: np.ndarray | None = None,
    k_max_inv_A: float = 20.0,
    lorch: bool = True,
    formers: tuple[str, ...] = ("P", "V"),
) -> StructureResult:
    """Run the full structure analysis.

    Parameters
    ----------
    traj : trajectory
        From :func:`vitreous.io.trajectory.open_trajectory`.
    frames : ndarray, optional
        Frame indices (default all).
    cutoffs : dict, optional
        {(cation, "O"): Å}; missing cation–O pairs use the first minimum of g_ab.
    k_inv_A : ndarray, optional
        k grid for S(k) (default 0.3 … ``k_max_inv_A`` in steps of 0.02 1/Å).
    k_max_inv_A : float
        Upper limit of the S(k) → G(r) transform (use the experiment's kmax).

    Rw against a measured curve: :func:`vitreous.experiment.compare_structure` on the result.
    """
    frames = np.arange(len(traj)) if frames is None else np.asarray(frames)
    rdf = PairDistribution(r_max_A, dr_A, split_valence=True).compute(traj, frames)
    labels = set(rdf.counts)
    cuts = dict(cutoffs or {})
    for lab in sorted(labels - {"O"}):
        element = lab.rstrip("0123456789")
        if (lab, "O") not in cuts and element != lab and (element, "O") in cuts:
            cuts[(lab, "O")] = cuts[(element, "O")]  # V4, V5 inherit an explicit V-O cutoff
        if (lab, "O") not in cuts and f"{lab}-O" in rdf.partials:
            try:
                cuts[(lab, "O")] = rdf.first_minimum(f"{lab}-O")
            except AnalysisError:
                continue
    for (a, b), v in list(cuts.items()):
        cuts[(b, a)] = v
    network = network_analysis(traj, frames, {k: v for k, v in cuts.items() if k[1] == "O"}, formers)
    bonds = {}
    for lab in sorted(labels - {"O"}):
        pair = f"{lab}-O"
        try:
            bonds[pair] = rdf.bond_lengths(pair)
        except AnalysisError:
            bonds[pair] = []
    k = np.arange(0.3, k_max_inv_A + 1e-9, 0.02) if k_inv_A is None else np.asarray(k_inv_A)
    xray = total_structure_factor(rdf, k, "xray", lorch)
    neutron = total_structure_factor(rdf, k, "neutron", lorch)
    na = {}
    if "Na" in rdf.counts:
        na = faber_ziman_partials(rdf, k, lorch, pairs=["Na-Na"])
        xray.partials.update({f"{p}": v for p, v in na.items()})
    r = rdf.r_A
    rho0 = rdf.density_A3
    # S(k) → G(r) needs S from k = 0: extend with the low-k value of the model
    k_full = np.concatenate([[0.0], k])
    g_x = reduced_pdf(k_full, np.concatenate([[xray.S[0]], xray.S]), r, k_max_inv_A, lorch)
    g_n = reduced_pdf(k_full, np.concatenate([[neutron.S[0]], neutron.S]), r, k_max_inv_A, lorch)
    # neutron-weighted G(r) straight from the partial g(r) (k-independent weights)
    from vitreous.analysis.scattering import scattering_weights

    w = {e: float(v[0]) for e, v in scattering_weights(rdf.element_labels, np.array([1.0]), "neutron").items()}
    conc = {e: rdf.concentration(e) for e in rdf.element_labels}
    mean_w = sum(conc[e] * w[e] for e in conc)
    g_w = sum(conc[a] * conc[b] * w[a] * w[b] * rdf.get(f"{a}-{b}") for a in conc for b in conc) / mean_w**2
    g_w_inf = sum(conc[a] * conc[b] * w[a] * w[b] * rdf.asymptote(f"{a}-{b}") for a in conc for b in conc) / mean_w**2
    real_space = {
        "r": r,
        "G": g_x,
        "T": g_x + 4 * np.pi * rho0 * r,
        "G_neutron": g_n,
        "T_neutron": g_n + 4 * np.pi * rho0 * r,
        "G_from_gr": 4 * np.pi * rho0 * r * (g_w - g_w_inf),
        "k_max": k_max_inv_A,
        "lorch": lorch,
        "note": "G and T from the X-ray S(k); *_neutron from the neutron S(k); G_from_gr is the neutron-weighted "
        "4πρ0 r [g(r) − g(∞)] without k truncation (g(∞) = 1 − O(1/N) in a finite model)",
    }
    result = StructureResult(rdf, network, bonds, xray, neutron, na, real_space)
    result.metadata = {
        "n_frames": len(frames),
        "frames": [int(frames[0]), int(frames[-1])],
        "n_atoms": rdf.n_atoms,
        "volume_A3": rdf.volume_A3,
        "density_A3": rho0,
        "r_max_A": rdf.r_max_A,
        "dr_A": rdf.dr_A,
        "smoothing_A": rdf.smoothing_A,
        "lorch": lorch,
        "k_max_inv_A": k_max_inv_A,
        "cutoffs_A": {f"{a}-{b}": v for (a, b), v in cuts.items() if b == "O"},
        "scattering_data": scattering_data_sources()
        | {"neutron_b_c_fm": {e: neutron_b_c_fm(e) for e in rdf.element_labels}},
    }
    return result
