"""A classical force field as an ASE calculator: in-process LAMMPS under ASE.

The same LAMMPS commands as :class:`~vitreous.engines.lammps.LammpsBackend` (one atom type
per (element, valence) species, charges of the set, ``pair_modify shift yes``), evaluated
with ``run 0`` at each new geometry, so a protocol can run on the ASE engine with the very
interaction the LAMMPS engine uses (the engine contract test compares them). ASE's own
``LAMMPSlib`` maps types by chemical symbol and cannot tell V4+ from V5+, hence this class.

Units: energy eV, forces eV/Å, stress eV/Å³ (ASE convention: positive = tensile).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lammps.coordinatetransform import Prism

from vitreous.errors import EngineError
from vitreous.io.structures import write_lammps_data
from vitreous.potentials.classical import Coulomb, ForceField
from vitreous.species import type_map
from vitreous.units import BAR_TO_GPA, EV_PER_A3_TO_GPA

__all__ = ["LammpsCalculator"]


class LammpsCalculator(Calculator):
    """Energy, forces and stress of a :class:`ForceField` from in-process LAMMPS.

    Parameters
    ----------
    forcefield : ForceField
        Must cover the species of the structures it is given.
    coulomb : Coulomb
        Coulomb treatment (default PPPM 1e-5, 10 Å).
    threads : int
        OpenMP threads of the LAMMPS instance.
    workdir : path, optional
        Folder for the data and parameter files (default a temporary folder).
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(
        self,
        forcefield: ForceField,
        coulomb: Coulomb | None = None,
        threads: int = 1,
        workdir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.forcefield = forcefield
        self.coulomb = coulomb or Coulomb()
        self.threads = threads
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="vitreous-lmpcalc-"))
        self._lmp: Any = None
        self._key: tuple | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-able description (inputs hash, summaries)."""
        return {"calculator": "lammps", "forcefield": self.forcefield.describe(), "coulomb": vars(self.coulomb)}

    def _setup(self, atoms: Atoms) -> None:
        from vitreous.engines.lammps_runtime import new_lammps

        self.close()
        species, _, _ = type_map(atoms)
        order = getattr(self.forcefield, "type_species", None)  # a model that fixes its type order
        if order is not None:
            species = order(species)
        self.forcefield.check_covers(species)
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "calculator.data"
        write_lammps_data(atoms, data, charges=[self.forcefield.charges[s] for s in species], species=species)
        lmp = new_lammps(threads=self.threads)
        lmp.commands_list(["units metal", "atom_style charge", "atom_modify map array", f"read_data {data}"])
        lmp.commands_list(self.forcefield.lammps_commands(species, self.coulomb, self.workdir))
        lmp.command("compute vpress all pressure NULL virial")
        lmp.command("thermo_style custom pe c_vpress[1] c_vpress[2] c_vpress[3] c_vpress[4] c_vpress[5] c_vpress[6]")
        lmp.command("thermo_modify norm no")
        self._lmp = lmp
        self._prism = Prism(atoms.get_cell())
        self._key = (tuple(atoms.numbers), tuple(atoms.arrays["valence"]), atoms.cell.array.tobytes())

    def calculate(
        self, atoms: Atoms | None = None, properties: list[str] | None = None, system_changes: list[str] = all_changes
    ) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        atoms = self.atoms
        if "valence" not in atoms.arrays:
            type_map(atoms)  # applies the default valences
        key = (tuple(atoms.numbers), tuple(atoms.arrays["valence"]), atoms.cell.array.tobytes())
        if self._lmp is None or key != self._key:
            self._setup(atoms)
        n = len(atoms)
        x = self._prism.vector_to_lammps(atoms.get_positions(), wrap=True)
        lmp = self._lmp
        lmp.scatter_atoms("x", 1, 3, np.ascontiguousarray(x.reshape(-1), dtype=np.float64).ctypes)
        try:
            lmp.command("run 0 post no")
        except Exception as exc:
            raise EngineError(f"LAMMPS failed in a single point: {exc}") from exc
        f = np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3), shape=(3 * n,)).reshape(n, 3).copy()
        energy = float(lmp.get_thermo("pe"))
        # LAMMPS virial pressure (bar) xx yy zz xy xz yz; ASE stress = −pressure (eV/Å³).
        # Read from the compute itself: get_thermo("c_vpress[i]") returns 0 after run 0.
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

        vpress = lmp.numpy.extract_compute("vpress", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)
        p = np.array(vpress[:6], dtype=float) * BAR_TO_GPA / EV_PER_A3_TO_GPA
        tensor = np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]])
        tensor = self._prism.tensor2_to_ase(tensor)
        stress = -tensor[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": self._prism.vector_to_ase(f),
            "stress": stress,
        }

    def close(self) -> None:
        """Release the LAMMPS instance."""
        if self._lmp is not None:
            self._lmp.close()
            self._lmp = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass
