"""Network analysis: coordination numbers and units (VO_l), bridging/non-bridging oxygen,
Qn, and bond-valence sums.

Bonds are cation–O pairs closer than a cutoff per pair (explicit, or the first minimum of
g_ab). An oxygen is bridging (BO) when bonded to two network formers (default P and V),
non-bridging (NBO) when bonded to one, free when bonded to none, and a tricluster with
three or more. Qn of a former counts its BO neighbours. Bond-valence sum (Brown &
Altermatt, Acta Cryst. B41 (1985) 244): V_i = Σ_j exp((R0 − r_ij)/b), b = 0.37 Å.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.analysis.rdf import species_labels
from vitreous.errors import AnalysisError

__all__ = [
    "BondValence",
    "NetworkResult",
    "bond_valence_parameters",
    "network_analysis",
    "parse_cutoffs",
    "vanadium_bond_valence",
]


def parse_cutoffs(items: list[str] | dict[str, float] | None, known: set[str]) -> dict[tuple[str, str], float]:
    """``["V-O=2.4", ...]`` or ``{"V-O": 2.4}`` → {("V", "O"): 2.4}, labels checked."""
    if not items:
        return {}
    pairs = (
        items.items() if isinstance(items, dict) else [tuple(s.split("=", 1)) if "=" in s else (s, None) for s in items]
    )
    out = {}
    for pair, value in pairs:
        a, _, b = str(pair).strip().partition("-")
        if not a or not b:
            raise AnalysisError(f"cannot read cutoff '{pair}'", hint="write A-B=Å, e.g. V-O=2.4")
        for lab in (a, b):
            if lab not in known:
                raise AnalysisError(
                    f"unknown species '{lab}' in cutoff '{pair}'", hint=f"species: {', '.join(sorted(known))}"
                )
        try:
            d = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise AnalysisError(f"cutoff of {pair} is not a number: {value!r}", hint="e.g. V-O=2.4") from None
        if not d > 0:
            raise AnalysisError(f"cutoff of {pair} must be positive")
        out[(a, b)] = d
        out[(b, a)] = d
    return out


@cache
def bond_valence_parameters() -> tuple[float, dict[tuple[str, int], float], str]:
    """(b, {(element, valence): R0}, source) from ``data/bond_valence.toml``."""
    raw = tomllib.loads(resources.files("vitreous.data").joinpath("bond_valence.toml").read_text())
    table = {}
    for key, r0 in raw["R0_A"].items():
        el = key.rstrip("+-0123456789")
        table[(el, int(key[len(el) :]))] = float(r0)
    return float(raw["b_A"]), table, raw["source"]


def _bond_valences(r0_A: float, distances_A: np.ndarray, b_A: float) -> np.ndarray:
    """Brown–Altermatt bond valences s = exp((R0 − r)/b) (valence units)."""
    return np.exp((r0_A - distances_A) / b_A)


def _closest_valence(sums: dict[int, float]) -> int:
    """The valence whose own-parameter bond-valence sum is closest to itself."""
    return min(sums, key=lambda v: abs(sums[v] - v))


def vanadium_bond_valence(atoms: Atoms, cutoff_A: float = 3.0) -> dict[int, dict[str, Any]]:
    """Brown–Altermatt bond-valence sums of every V of one structure.

    BVS = Σ_O exp((R0 − r)/b) over O within ``cutoff_A`` (Å, minimum image when the
    structure has a cell), with R0 of V4+ and of V5+ (``data/bond_valence.toml``; Brown &
    Altermatt, Acta Cryst. B41, 244 (1985)). The estimated valence is the one whose sum is
    closer to itself, as in :func:`network_analysis`.

    Returns
    -------
    dict
        {V index: {"bvs": {4: float, 5: float}, "valence": 4 or 5}}.
    """
    from vesin import NeighborList

    b, r0_table, _ = bond_valence_parameters()
    symbols = np.array(atoms.get_chemical_symbols())
    periodic = atoms.cell.volume > 0
    box = atoms.cell.array if periodic else np.eye(3)
    i, j, d = NeighborList(cutoff=cutoff_A, full_list=True).compute(
        points=atoms.positions, box=box, periodic=periodic, quantities="ijd"
    )
    m = (symbols[i] == "V") & (symbols[j] == "O")
    out: dict[int, dict[str, Any]] = {}
    for v in np.flatnonzero(symbols == "V"):
        dv = d[m & (i == v)]
        bvs = {val: float(np.sum(_bond_valences(r0_table[("V", val)], dv, b))) for val in (4, 5)}
        out[int(v)] = {"bvs": bvs, "valence": _closest_valence(bvs)}
    return out


@dataclass
class BondValence:
    """Bond-valence sums of one element's atoms, averaged over frames."""

    element: str
    indices: list[int]
    bvs_by_valence: dict[int, list[float]]
    estimated_valence: list[int]
    formal_valence: list[int] | None
    cutoff_A: float
    source: str

    def agreement(self) -> float | None:
        """Fraction of atoms whose estimated valence equals the formal one."""
        if self.formal_valence is None:
            return None
        return float(np.mean(np.array(self.estimated_valence) == np.array(self.formal_valence)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        est = np.array(self.estimated_valence)
        return {
            "element": self.element,
            "indices": self.indices,
            "bvs": {str(v): s for v, s in self.bvs_by_valence.items()},
            "estimated_valence": self.estimated_valence,
            "formal_valence": self.formal_valence,
            "estimated_fractions": {str(v): float(np.mean(est == v)) for v in sorted(set(self.estimated_valence))},
            "agreement_with_formal": self.agreement(),
            "cutoff_A": self.cutoff_A,
            "b_A": bond_valence_parameters()[0],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BondValence:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["element"],
            list(d["indices"]),
            {int(v): list(s) for v, s in d["bvs"].items()},
            list(d["estimated_valence"]),
            None if d["formal_valence"] is None else list(d["formal_valence"]),
            d["cutoff_A"],
            d["source"],
        )


@dataclass
class NetworkResult:
    """Coordination, units, oxygen types, Qn and bond valence over frames."""

    cutoffs_A: dict[str, float]
    coordination: dict[str, dict[str, Any]]
    oxygen: dict[str, Any]
    qn: dict[str, dict[str, Any]]
    bond_valence: dict[str, BondValence] = field(default_factory=dict)
    formers: tuple[str, ...] = ("P", "V")
    n_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "cutoffs_A": self.cutoffs_A,
            "coordination": self.coordination,
            "oxygen": self.oxygen,
            "qn": self.qn,
            "bond_valence": {k: v.to_dict() for k, v in self.bond_valence.items()},
            "formers": list(self.formers),
            "n_frames": self.n_frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkResult:
        """Inverse of :meth:`to_dict` (files without ``cutoffs_A`` take them from the
        coordination entries)."""
        cutoffs = d.get("cutoffs_A") or {k: v["cutoff_A"] for k, v in d["coordination"].items() if "cutoff_A" in v}
        return cls(
            dict(cutoffs),
            d["coordination"],
            d["oxygen"],
            d["qn"],
            {k: BondValence.from_dict(v) for k, v in d.get("bond_valence", {}).items()},
            tuple(d.get("formers", ("P", "V"))),
            d.get("n_frames", 0),
        )

    def plot(self, ax: Any, pair: str = "V-O") -> Any:
        """Bar chart of the coordination distribution of one pair."""
        dist = self.coordination[pair]["distribution"]
        keys = list(dist)
        ax.bar(keys, [dist[k] for k in keys], yerr=[self.coordination[pair]["distribution_std"][k] for k in keys])
        ax.set_xlabel(f"{pair.split('-')[0]} coordination by {pair.split('-')[1]}")
        ax.set_ylabel("fraction")
        return ax


def _distribution(values: np.ndarray, lo: int, hi: int) -> dict[str, float]:
    out = {}
    for k in range(lo, hi):
        out[str(k)] = float(np.mean(values == k))
    out[f"{hi}+"] = float(np.mean(values >= hi))
    below = float(np.mean(values < lo))
    if below:
        out[f"<{lo}"] = below
    return out


def _coordination_summary(
    per_frame: dict[str, list[np.ndarray]], cutoffs: dict[tuple[str, str], float]
) -> dict[str, dict[str, Any]]:
    """Mean coordination, its frame-to-frame standard deviation and the distribution of each
    pair (from per-frame, per-atom counts)."""
    coordination = {}
    for key, arrays in per_frame.items():
        a, bb = key.split("-")
        all_vals = np.concatenate(arrays)
        means = np.array([x.mean() for x in arrays])
        dists = [_distribution(x, 3, 7) for x in arrays]
        dist = _distribution(all_vals, 3, 7)
        coordination[key] = {
            "cutoff_A": cutoffs[(a, bb)] if (a, bb) in cutoffs else None,
            "mean": float(all_vals.mean()),
            "std": float(means.std(ddof=1)) if len(means) > 1 else 0.0,
            "distribution": dist,
            "distribution_std": {
                k: float(np.std([dd.get(k, 0.0) for dd in dists], ddof=1)) if len(dists) > 1 else 0.0 for k in dist
            },
            "n_atoms": len(arrays[0]),
        }
    return coordination


def _oxygen_summary(
    oxygen_types: list[np.ndarray], bridge_kinds: list[dict[str, float]], formers: tuple[str, ...]
) -> dict[str, Any]:
    """Free/NBO/BO/tricluster fractions of O (by the number of former neighbours), their
    frame-to-frame standard deviations, and the kinds of bridges."""
    ot = np.concatenate(oxygen_types)

    def fractions(x: np.ndarray) -> dict[str, float]:
        return {
            "free": float(np.mean(x == 0)),
            "NBO": float(np.mean(x == 1)),
            "BO": float(np.mean(x == 2)),
            "tricluster": float(np.mean(x >= 3)),
        }

    per_frame = [fractions(x) for x in oxygen_types]
    return {
        **fractions(ot),
        "std": {
            k: float(np.std([fr[k] for fr in per_frame], ddof=1)) if len(per_frame) > 1 else 0.0 for k in per_frame[0]
        },
        "bridges": {
            k: float(np.mean([bk.get(k, 0.0) for bk in bridge_kinds]))
            for k in sorted({k for bk in bridge_kinds for k in bk})
        },
        "formers": list(formers),
    }


def _qn_summary(qn_frames: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    """Qn distribution (n bridging O per former) and mean n of each former."""
    qn = {}
    for former, arrays in qn_frames.items():
        allq = np.concatenate(arrays)
        hi = 4 if former == "P" else 6
        qn[former] = {f"Q{k}": float(np.mean(allq == k)) for k in range(hi + 1)}
        if np.any(allq > hi):
            qn[former][f"Q>{hi}"] = float(np.mean(allq > hi))
        qn[former]["mean_n"] = float(allq.mean())
    return qn


def _vanadium_bond_valence(
    bvs_acc: dict[int, np.ndarray],
    n_frames: int,
    v_idx: np.ndarray,
    valence: np.ndarray,
    cutoff_A: float,
    source: str,
) -> BondValence:
    """Frame-averaged V bond-valence sums with the V4+ and V5+ parameters; a V is V4+ when
    the V4+-parameter sum is closer to 4 than the V5+ sum is to 5."""
    bvs = {v: (acc / n_frames) for v, acc in bvs_acc.items()}
    est = [_closest_valence({v: float(x[k]) for v, x in bvs.items()}) for k in range(len(v_idx))]
    formal = valence[v_idx].tolist() if set(valence[v_idx]) <= {4, 5} else None
    return BondValence("V", v_idx.tolist(), {v: x.tolist() for v, x in bvs.items()}, est, formal, cutoff_A, source)


def network_analysis(
    traj: Any,
    frames: np.ndarray,
    cutoffs: dict[tuple[str, str], float],
    formers: tuple[str, ...] = ("P", "V"),
    bvs_cutoff_A: float = 3.0,
) -> NetworkResult:
    """Coordination of every cation by O, VO_l units, BO/NBO, Qn and V bond-valence sums.

    Parameters
    ----------
    traj : trajectory
        See :func:`vitreous.io.trajectory.open_trajectory`.
    frames : ndarray
        Frame indices to average over.
    cutoffs : dict
        {(A, B): Å} for each cation–O pair to analyse (labels may be elements or
        valence-split labels such as V4). Every cation element present needs an element-
        level entry (A, "O").
    formers : tuple of str
        Network-former elements for BO/NBO and Qn.
    bvs_cutoff_A : float
        Largest V–O distance counted in a bond-valence sum.
    """
    from vesin import NeighborList

    symbols = np.asarray(traj.symbols)
    valence = traj.valence
    labels = species_labels(list(symbols), valence, True)
    cations = [e for e in dict.fromkeys(symbols) if e != "O"]
    if "O" not in symbols:
        raise AnalysisError("no oxygen in the structure", hint="network analysis is for oxides")
    for c in cations:
        if (c, "O") not in cutoffs:
            raise AnalysisError(f"no {c}-O cutoff", hint="give one, e.g. --cutoff V-O=2.4")
    rc = max(max(cutoffs.values()), bvs_cutoff_A)
    o_idx = np.flatnonzero(symbols == "O")
    former_idx = {f: np.flatnonzero(symbols == f) for f in formers if np.any(symbols == f)}
    keys = [(c, "O") for c in cations] + sorted({(a, b) for (a, b) in cutoffs if b == "O" and a not in cations})
    per_frame: dict[str, list[np.ndarray]] = {f"{a}-{b}": [] for a, b in keys}
    oxygen_types: list[np.ndarray] = []
    bridge_kinds: list[dict[str, float]] = []
    qn_frames: dict[str, list[np.ndarray]] = {f: [] for f in former_idx}
    b, r0_table, source = bond_valence_parameters()
    v_idx = np.flatnonzero(symbols == "V")
    bvs_acc = {v: np.zeros(len(v_idx)) for v in (4, 5) if ("V", v) in r0_table}
    nl = NeighborList(cutoff=rc, full_list=True)
    n_atoms = len(symbols)
    for f in frames:
        sl = slice(int(f), int(f) + 1)
        i, j, d = nl.compute(points=traj.positions(sl)[0], box=traj.cells(sl)[0], periodic=True, quantities="ijd")
        is_o_j = symbols[j] == "O"
        # element-level cation–O bonds
        cut = np.zeros(len(i))
        sel = is_o_j & (symbols[i] != "O")
        cut[sel] = [cutoffs[(s, "O")] for s in symbols[i][sel]]
        bonded = sel & (d < cut)
        bi, bj = i[bonded], j[bonded]
        cn = np.bincount(bi, minlength=n_atoms)
        for a, bb in keys:
            lab_mask = (labels == a) if a not in cations else (symbols == a)
            if (a, bb) in cutoffs and a not in cations:  # valence-split labels
                m = sel & (labels[i] == a) & (d < cutoffs[(a, bb)])
                cnt = np.bincount(i[m], minlength=n_atoms)
                per_frame[f"{a}-{bb}"].append(cnt[lab_mask])
            else:
                per_frame[f"{a}-{bb}"].append(cn[lab_mask])
        # oxygen: number of former neighbours
        is_former = np.isin(symbols[bi], list(former_idx))
        nf = np.bincount(bj[is_former], minlength=n_atoms)[o_idx]
        oxygen_types.append(nf)
        # kinds of bridges (P-O-P, P-O-V, V-O-V)
        kinds: dict[str, float] = {}
        fb_i, fb_j = bi[is_former], bj[is_former]
        bo_mask = np.zeros(n_atoms, dtype=bool)
        bo_mask[o_idx[nf == 2]] = True
        m = bo_mask[fb_j]
        order = np.argsort(fb_j[m], kind="stable")
        pairs = symbols[fb_i[m]][order].reshape(-1, 2) if m.sum() % 2 == 0 else np.empty((0, 2))
        for p in pairs:
            key = "-O-".join(sorted(p))
            kinds[key] = kinds.get(key, 0) + 1
        total_bo = max(1, len(pairs))
        bridge_kinds.append({k: v / total_bo for k, v in kinds.items()})
        for former, idx in former_idx.items():
            m = symbols[bi] == former
            q = np.bincount(bi[m][bo_mask[bj[m]]], minlength=n_atoms)[idx]
            qn_frames[former].append(q)
        # bond-valence sums of V
        if len(v_idx) and bvs_acc:
            m = (symbols[i] == "V") & is_o_j & (d < bvs_cutoff_A)
            for v in bvs_acc:
                s = _bond_valences(r0_table[("V", v)], d[m], b)
                bvs_acc[v] += np.bincount(i[m], weights=s, minlength=n_atoms)[v_idx]

    coordination = _coordination_summary(per_frame, cutoffs)
    oxygen = _oxygen_summary(oxygen_types, bridge_kinds, formers)
    qn = _qn_summary(qn_frames)
    bond_valence = {}
    if len(v_idx) and bvs_acc:
        bond_valence["V"] = _vanadium_bond_valence(bvs_acc, len(frames), v_idx, valence, bvs_cutoff_A, source)
    return NetworkResult(
        cutoffs_A={f"{a}-{bb}": v for (a, bb), v in cutoffs.items() if bb == "O"},
        coordination=coordination,
        oxygen=oxygen,
        qn=qn,
        bond_valence=bond_valence,
        formers=tuple(formers),
        n_frames=len(frames),
    )
