"""Small vanadium molecules for CP2K tests (geometries built here, not optimised)."""

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


def vanadyl_v5() -> Atoms:
    """OV(OH)3: V5+, one vanadyl V=O (1.58 Å) and three V–OH (1.78 Å)."""
    pos = [np.zeros(3), np.array([0, 0, 1.58])]
    hyd = []
    for o in _tripod(109.0, 1.78, 3):
        pos.append(o)
        u = o / np.linalg.norm(o)
        hyd.append(o + 0.97 * (u + np.array([0, 0, -0.6])) / np.linalg.norm(u + np.array([0, 0, -0.6])))
    atoms = Atoms("VO4H3", positions=np.array(pos + hyd))
    atoms.set_array("valence", np.array([5, -2, -2, -2, -2, 1, 1, 1]))
    return atoms


def vanadyl_v4() -> Atoms:
    """VO(OH)2: V4+ (d1), one vanadyl and two V–OH; multiplicity 2."""
    pos = [np.zeros(3), np.array([0, 0, 1.60])]
    hyd = []
    for o in _tripod(110.0, 1.80, 2):
        pos.append(o)
        u = o / np.linalg.norm(o)
        hyd.append(o + 0.97 * (u + np.array([0, 0, -0.6])) / np.linalg.norm(u + np.array([0, 0, -0.6])))
    atoms = Atoms("VO3H2", positions=np.array(pos + hyd))
    atoms.set_array("valence", np.array([4, -2, -2, -2, 1, 1]))
    return atoms
