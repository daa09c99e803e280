"""One table of physical constants and unit conversions used at engine boundaries.

Internal units of vitreous: Å, eV, ps, K, g/cm³, GPa, S/cm, amu. Values are CODATA 2018
as exposed by :mod:`scipy.constants`.
"""

from __future__ import annotations

from ase.units import fs as _ase_fs
from scipy import constants as _c

AVOGADRO: float = _c.Avogadro  # 1/mol
BOLTZMANN_EV_K: float = _c.k / _c.e  # eV/K
ELEMENTARY_CHARGE_C: float = _c.e  # C
BOLTZMANN_J_K: float = _c.k  # J/K

ANGSTROM3_TO_CM3: float = 1e-24
BAR_TO_GPA: float = 1e-4
GPA_TO_BAR: float = 1e4
FS_TO_PS: float = 1e-3
ATOMIC_TIME_S: float = _c.physical_constants["atomic unit of time"][0]  # s (CP2K velocities)
#: velocity in Å/ps per ASE velocity unit (Å per ASE time unit; ASE's fs from its own CODATA)
A_PS_PER_ASE_VELOCITY: float = _ase_fs / FS_TO_PS
#: kinetic energy in eV of 1 amu moving at 1 Å/ps
AMU_A2_PS2_TO_EV: float = _c.atomic_mass * 1e-20 / 1e-24 / _c.e
# eV/Å^3 -> GPa
EV_PER_A3_TO_GPA: float = _c.e / 1e-30 / 1e9


def density_g_cm3(total_mass_amu: float, volume_A3: float) -> float:
    """Mass density in g/cm³ from a mass in amu and a volume in Å³."""
    return total_mass_amu / AVOGADRO / (volume_A3 * ANGSTROM3_TO_CM3)
