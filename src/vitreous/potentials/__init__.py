"""Interaction models: the :class:`Potential` interface; classical force fields (data +
LAMMPS commands)."""

from vitreous.potentials.base import Potential
from vitreous.potentials.classical import (
    Coulomb,
    ForceField,
    ThreeBodyTaper,
    available_forcefields,
    load_forcefield,
)

__all__ = ["Coulomb", "ForceField", "Potential", "ThreeBodyTaper", "available_forcefields", "load_forcefield"]
