"""Electronic analysis of DFT results: V4+/V5+ from spin moments, V–O bond orders from
maximally localised Wannier function centres (WFCs).

- Valence from spin: a V with |spin moment| ≥ ``threshold`` (default 0.5 μB, half the
  moment of one unpaired d electron) is V4+ (d¹), else V5+ (d⁰).
- Bonds from WFCs (spin-unrestricted: one set of centres per spin channel): a centre
  belongs to its nearest atom (an O, within 1 Å; else it is unassigned); it is shared with
  a V bonded to that O when it lies on the V side of the O (projection on the V→O axis
  strictly between the atoms) within ``axis_A`` (default 0.9 Å) of the axis; otherwise
  it is a lone pair of its O. A bond
  with 2 centres (one per spin) is single, with more than 2 double (vanadyl), with fewer
  it is ionic/weak. Distances use the minimum image of the cell given with the atoms (for a
  molecule: CP2K's box, from the input file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import AnalysisError

__all__ = ["ElectronicResult", "valence_from_spin", "wannier_bonds"]


def valence_from_spin(spin: np.ndarray, symbols: list[str], threshold: float = 0.5) -> dict[int, int]:
    """{atom index: 4 or 5} for every V from its spin moment (μB)."""
    return {i: (4 if abs(m) >= threshold else 5) for i, (s, m) in enumerate(zip(symbols, spin, strict=True))
            if s == "V"}  # fmt: skip


def _mic(d: np.ndarray, atoms: Atoms) -> np.ndarray:
    # minimum image whenever a cell is known: CP2K writes centres of a molecule in a box
    # (and may wrap them into another image of that box) even for non-periodic runs
    if atoms.cell.volume <= 0:
        return d
    cell = atoms.cell.array
    frac = d @ np.linalg.inv(cell)
    return (frac - np.round(frac)) @ cell


@dataclass
class ElectronicResult:
    """Bonds, per-V summary and spin-based valences."""

    bonds: list[dict[str, Any]]
    vanadium: list[dict[str, Any]]
    lone_pairs: dict[int, int] = field(default_factory=dict)
    unassigned: int = 0
    owned: dict[int, int] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    criteria: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON layout of ``vitreous analyze electronic``."""
        return {"bonds": self.bonds, "vanadium": self.vanadium, "lone_pairs": {str(k): v for k, v in
                self.lone_pairs.items()}, "unassigned_centres": self.unassigned,
                "centres_per_atom": {str(k): v for k, v in self.owned.items()}, "agreement": self.agreement,
                "criteria": self.criteria}  # fmt: skip


def wannier_bonds(
    atoms: Atoms,
    centres: list[np.ndarray] | np.ndarray,
    bond_cutoff_A: float = 2.4,
    axis_A: float = 0.9,
    spin: np.ndarray | None = None,
    spin_threshold: float = 0.5,
) -> ElectronicResult:
    """Classify V–O bonds by the Wannier centres they hold (see the module docstring)."""
    c = np.concatenate([np.asarray(x).reshape(-1, 3) for x in centres]) if isinstance(centres, list) else np.asarray(
        centres).reshape(-1, 3)  # fmt: skip
    if len(c) == 0:
        raise AnalysisError("no Wannier centres", hint="run the DFT step with --wannier")
    sym = np.array(atoms.get_chemical_symbols())
    pos = atoms.positions
    v_idx = np.flatnonzero(sym == "V")
    o_idx = np.flatnonzero(sym == "O")
    bonds = []
    for v in v_idx:
        d = _mic(pos[o_idx] - pos[v], atoms)
        r = np.linalg.norm(d, axis=1)
        for o, vec, length in zip(o_idx[r < bond_cutoff_A], d[r < bond_cutoff_A], r[r < bond_cutoff_A], strict=True):
            bonds.append({"atoms": [int(v), int(o)], "pair": "V-O", "length_A": float(length), "vec": vec})
    counts = np.zeros(len(bonds), dtype=int)
    lone: dict[int, int] = {}
    unassigned = 0
    owned: dict[int, int] = {}
    bonds_of_o: dict[int, list[int]] = {}
    for k, b in enumerate(bonds):
        bonds_of_o.setdefault(b["atoms"][1], []).append(k)
    for x in c:
        # a centre belongs to its nearest atom (WFCs of these ionic oxides sit within ~0.6 Å of O)
        d_all = np.linalg.norm(_mic(pos - x, atoms), axis=1)
        owner = int(np.argmin(d_all))
        if d_all[owner] > 1.0:
            unassigned += 1
            continue
        owned[owner] = owned.get(owner, 0) + 1
        if sym[owner] != "O":  # semicore centres of V (GTH q13), O–H bond centres on H, ...
            continue
        shared = None
        for k in bonds_of_o.get(owner, []):
            b = bonds[k]
            rel = _mic(x - pos[b["atoms"][0]], atoms)
            t = float(rel @ b["vec"]) / b["length_A"] ** 2
            perp = float(np.linalg.norm(rel - t * b["vec"]))
            if 0.0 < t < 1.0 and perp < axis_A and (shared is None or perp < shared[1]):
                shared = (k, perp)
        if shared is None:
            lone[owner] = lone.get(owner, 0) + 1
        else:
            counts[shared[0]] += 1
    out_bonds = []
    for b, n in zip(bonds, counts, strict=True):
        order = "double" if n > 2 else "single" if n == 2 else "ionic"
        out_bonds.append({"atoms": b["atoms"], "pair": "V-O", "length_A": b["length_A"], "n_centres": int(n),
                          "order": order})  # fmt: skip
    vanadium = []
    spin_val = valence_from_spin(spin, list(sym), spin_threshold) if spin is not None else {}
    for v in v_idx:
        mine = [b for b in out_bonds if b["atoms"][0] == v]
        entry = {"index": int(v), "n_double": sum(b["order"] == "double" for b in mine),
                 "n_single": sum(b["order"] == "single" for b in mine),
                 "n_V": sum(b["order"] in ("double", "single") for b in mine),
                 "spin_moment": None if spin is None else float(spin[v]),
                 "valence_from_spin": spin_val.get(int(v))}  # fmt: skip
        vanadium.append(entry)
    agreement: dict[str, Any] = {}
    if spin is not None and "valence" in atoms.arrays:
        formal = atoms.arrays["valence"]
        same = [spin_val[int(v)] == int(formal[v]) for v in v_idx]
        agreement["spin_vs_formal"] = float(np.mean(same)) if same else None
    return ElectronicResult(out_bonds, vanadium, lone, unassigned, owned, agreement,
                            {"bond_cutoff_A": bond_cutoff_A, "axis_A": axis_A, "spin_threshold": spin_threshold,
                             "single": "2 centres (one per spin)", "double": "> 2 centres"})  # fmt: skip
