"""Per-atom species (element, formal valence) of an ``ase.Atoms``.

The per-atom integer array ``valence`` carries formal oxidation states (O = −2). Where a
structure has no such array (a CIF or POSCAR from elsewhere), each element takes its usual
oxide-glass valence from :data:`DEFAULT_VALENCE` (V is taken as V5+).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from vitreous.composition import DEFAULT_VALENCE, Species, species_label
from vitreous.errors import CompositionError

__all__ = ["DEFAULT_VALENCE", "atom_species", "ensure_valence", "species_list", "type_map"]


def ensure_valence(atoms: Atoms) -> np.ndarray:
    """Return the ``valence`` array, adding default valences when it is absent."""
    if "valence" in atoms.arrays:
        return atoms.arrays["valence"].astype(np.int64)
    missing = sorted({s for s in atoms.get_chemical_symbols() if s not in DEFAULT_VALENCE})
    if missing:
        raise CompositionError(
            f"no valence known for {', '.join(missing)}",
            hint="give the structure a per-atom 'valence' array (extxyz column)",
        )
    valence = np.array([DEFAULT_VALENCE[s] for s in atoms.get_chemical_symbols()], dtype=np.int64)
    atoms.set_array("valence", valence)
    return valence


def atom_species(atoms: Atoms) -> list[Species]:
    """Species of each atom."""
    valence = ensure_valence(atoms)
    return [Species(s, int(v)) for s, v in zip(atoms.get_chemical_symbols(), valence, strict=True)]


def species_list(atoms: Atoms) -> list[Species]:
    """Distinct species in order of first appearance."""
    seen: dict[Species, None] = {}
    for s in atom_species(atoms):
        seen.setdefault(s, None)
    return list(seen)


def type_map(atoms: Atoms) -> tuple[list[Species], np.ndarray, list[str]]:
    """Species per engine type (1-based types), per-atom types and type labels."""
    species = species_list(atoms)
    index = {s: i + 1 for i, s in enumerate(species)}
    types = np.array([index[s] for s in atom_species(atoms)], dtype=np.int64)
    return species, types, [species_label(s, species) for s in species]
