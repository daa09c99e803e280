"""CP2K as an ASE calculator through ``cp2k --shell``, with vitreous' own DFT input.

The input is :func:`vitreous.engines.cp2k.write_input` (the same presets, spin state, kinds,
+U, smearing as every other DFT run here); ASE's ``Cp2kShell`` speaks the shell protocol.
CP2K stays alive between calls and keeps its wavefunction, so each new geometry's SCF starts
from the last one. Under the MD driver's ASE backend this is Born–Oppenheimer MD with DFT
forces on any :class:`~vitreous.protocols.Protocol` (the f-BOMD melt–quench is the ordinary
``melt_quench`` recipe), with the driver's H5MD output, checkpoints and failure checks.

Units: energy eV, forces eV/Å, stress eV/Å³ (ASE sign: positive = tensile).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from vitreous.engines.cp2k import DFTSettings, _mpirun, find_cp2k, write_input
from vitreous.errors import EngineError

__all__ = ["CP2KCalculator"]


class CP2KCalculator(Calculator):
    """Energy, forces (and stress of periodic cells) from a CP2K shell.

    Parameters
    ----------
    settings : DFTSettings
        A DFT preset (``vitreous.engines.cp2k.load_dft_settings``).
    workdir : path
        Folder of the CP2K input, output and wavefunction files.
    ranks, threads : int
        MPI ranks (system mpirun) and OpenMP threads per rank.
    command : str, optional
        CP2K executable (default: found on PATH, as for every CP2K run here).
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(
        self,
        settings: DFTSettings,
        workdir: str | Path,
        ranks: int = 1,
        threads: int = 1,
        command: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.workdir = Path(workdir)
        self.ranks, self.threads, self.command = ranks, threads, command
        self._shell: Any = None
        self._env_id: int | None = None
        self._key: tuple | None = None
        self.n_evaluations = 0

    def describe(self) -> dict[str, Any]:
        """JSON-able description (the reference that produced the forces)."""
        from dataclasses import asdict

        return {"calculator": "cp2k", "reference": "DFT (CP2K)", "settings": asdict(self.settings)}

    def _start(self, atoms: Atoms) -> None:
        from ase.calculators.cp2k import Cp2kShell

        self.close()
        self.workdir.mkdir(parents=True, exist_ok=True)
        exe = find_cp2k(self.command)
        cmd = [*exe, "--shell"]
        if self.ranks > 1:
            mpirun = _mpirun()
            if mpirun is None:
                raise EngineError("mpirun not found for a multi-rank CP2K run", hint="ranks=1 or install OpenMPI")
            cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", str(self.ranks), *cmd]
        # keep a Python wheel's MPICH out of the way of the system OpenMPI, as CP2KRun does
        line = (
            f"cd {shlex.quote(str(self.workdir))} && env -u LD_LIBRARY_PATH OMP_NUM_THREADS={self.threads} "
            + " ".join(shlex.quote(c) for c in cmd)
        )
        try:
            self._shell = Cp2kShell(line, False)
        except Exception as exc:
            raise EngineError(f"cannot start the CP2K shell: {exc}", hint="check the cp2k installation") from exc
        periodic = bool(all(atoms.pbc)) and atoms.cell.volume > 0
        n = len(list(self.workdir.glob("shell-*.inp")))
        inp = self.workdir / f"shell-{n}.inp"
        inp.write_text(write_input(atoms, self.settings, "single-point", stress=periodic))
        sh = self._shell
        sh.send(f"LOAD {inp.name} {inp.with_suffix('.out').name}")
        self._env_id = int(sh.recv())
        if self._env_id < 1:
            raise EngineError(f"CP2K could not load {inp}", hint="check the input with 'cp2k --check'")
        sh.expect("* READY")
        sh.send("UNITS_EV_A")
        sh.expect("* READY")
        self._periodic = periodic
        self._key = (tuple(atoms.numbers), tuple(atoms.arrays.get("valence", ())), tuple(atoms.pbc))
        self._cell = atoms.cell.array.copy()
        # a non-periodic structure sits centred in write_input's padded box: keep that shift
        if periodic:
            self._shift = np.zeros(3)
        else:
            edge = float(max((atoms.positions.max(axis=0) - atoms.positions.min(axis=0)).max() + 10.0, 8.0))
            self._shift = edge / 2 - atoms.positions.mean(axis=0)

    def calculate(
        self, atoms: Atoms | None = None, properties: list[str] | None = None, system_changes: list[str] = all_changes
    ) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        atoms = self.atoms
        key = (tuple(atoms.numbers), tuple(atoms.arrays.get("valence", ())), tuple(atoms.pbc))
        if self._shell is None or key != self._key:
            self._start(atoms)
        sh = self._shell
        try:
            if self._periodic and not np.allclose(atoms.cell.array, self._cell):
                sh.send(f"SET_CELL {self._env_id}")
                for row in atoms.cell.array:
                    sh.send(" ".join(f"{x:.18e}" for x in row))
                sh.expect("* READY")
                self._cell = atoms.cell.array.copy()
            sh.send(f"SET_POS {self._env_id}")
            sh.send(str(3 * len(atoms)))
            for pos in atoms.positions + self._shift:
                sh.send(" ".join(f"{x:.18e}" for x in pos))
            sh.send("*END")
            sh.recv()  # largest displacement
            sh.expect("* READY")
            sh.send(f"EVAL_EF {self._env_id}")
            sh.expect("* READY")
            sh.send(f"GET_E {self._env_id}")
            energy = float(sh.recv())
            sh.expect("* READY")
            sh.send(f"GET_F {self._env_id}")
            n_values = int(sh.recv())
            forces = np.array([[float(x) for x in sh.recv().split()] for _ in range(n_values // 3)])
            sh.expect("* END")
            sh.expect("* READY")
            self.results = {"energy": energy, "free_energy": energy, "forces": forces}
            if self._periodic:
                sh.send(f"GET_STRESS {self._env_id}")
                stress = np.array([float(x) for x in sh.recv().split()]).reshape(3, 3)
                sh.expect("* READY")
                self.results["stress"] = -stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        except EngineError:
            raise
        except Exception as exc:  # the shell died or answered nonsense
            self.close()
            raise EngineError(f"CP2K shell failed in {self.workdir}: {exc}", hint="see the shell-*.out files") from exc
        self.n_evaluations += 1

    def close(self) -> None:
        """Stop the CP2K shell."""
        if self._shell is not None:
            try:
                self._shell.close()
            except Exception:  # a dead shell is closed already
                pass
            self._shell = None
            self._env_id = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass
