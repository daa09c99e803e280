"""Interaction models: classical force fields (data + LAMMPS commands)."""

from vitreous.potentials.classical import (
    Coulomb,
    ForceField,
    ThreeBodyTaper,
    available_forcefields,
    load_forcefield,
)

__all__ = ["Coulomb", "ForceField", "ThreeBodyTaper", "available_forcefields", "load_forcefield"]
