"""Small vanadium molecules for CP2K tests (geometries built here; make_cp2k_data.py
optimises OV(OH)3 with CP2K into v5_opt/optimized.extxyz)."""

from __future__ import annotations

import numpy as np
from ase import Atoms


def _tripod(theta_deg: float, r: float, n: int, phase_deg: float = 0.0) -> list[np.ndarray]:
    th = np.radians(theta_deg)
    return [
        r
        * np.array(
            [
                np.sin(th) * np.cos(np.radians(phase_deg + 360 * k / n)),
                np.sin(th) * np.sin(np.radians(phase_deg + 360 * k / n)),
                np.cos(th),
            ]
        )
        for k in range(n)
    ]


def _vanadyl(n_oh: int, r_vanadyl: float, r_oh_bond: float, theta_deg: float, valence_v: int) -> Atoms:
    """V at the origin, a vanadyl O on +z and ``n_oh`` hydroxyls below (O–H 0.97 Å)."""
    pos = [np.zeros(3), np.array([0, 0, r_vanadyl])]
    hyd = []
    tilt = np.array([0, 0, -0.6])
    for o in _tripod(theta_deg, r_oh_bond, n_oh):
        pos.append(o)
        u = o / np.linalg.norm(o)
        hyd.append(o + 0.97 * (u + tilt) / np.linalg.norm(u + tilt))
    atoms = Atoms(f"VO{n_oh + 1}H{n_oh}", positions=np.array(pos + hyd))
    atoms.set_array("valence", np.array([valence_v, -2] + [-2] * n_oh + [1] * n_oh))
    return atoms


def in_box(atoms: Atoms, edge_A: float = 8.0) -> Atoms:
    """A molecule centred in a periodic cube of edge ``edge_A`` (Å): far cheaper than the
    padded non-periodic (Martyna–Tuckerman) box."""
    atoms = atoms.copy()
    atoms.set_cell([edge_A] * 3)
    atoms.center()
    atoms.pbc = True
    return atoms


def vanadyl_v5() -> Atoms:
    """OV(OH)3: V5+, one vanadyl V=O (1.58 Å) and three V–OH (1.78 Å)."""
    return _vanadyl(3, 1.58, 1.78, 109.0, 5)


def vanadyl_v4() -> Atoms:
    """VO(OH)2: V4+ (d1), one vanadyl and two V–OH; multiplicity 2."""
    return _vanadyl(2, 1.60, 1.80, 110.0, 4)
