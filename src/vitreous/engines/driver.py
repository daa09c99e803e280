"""One engine-independent MD driver and the small interface every engine implements.

:class:`MDRun` runs a :class:`~vitreous.protocols.Protocol` on any :class:`Backend`
(LAMMPS in-process, or ASE with any calculator). Everything that does not depend on the
engine lives here, once:

- the **resume guard**: a folder with a finished run of the same inputs is returned as it is;
  one of different inputs is refused; a checkpoint of the same inputs is resumed;
- the **chunked advance**: chunks of gcd(thermo, trajectory, checkpoint intervals) steps;
- **frames buffered** between checkpoints and appended to ``trajectory.h5`` (H5MD);
- the **checkpoint order**: buffered frames → H5MD append + flush/fsync → the engine's restart
  file (tmp + fsync + rename) → ``checkpoint.json`` (atomic); a resume truncates the H5MD
  datasets to the counts in ``checkpoint.json``, so a run killed at any moment resumes
  without missing or duplicated frames;
- the **failure checks** after every chunk (atoms lost, non-finite energies, temperature
  runaway, atoms flying apart);
- **progress** (rich bar or callback), the run summary with per-stage held temperatures
  (:func:`~vitreous.engines.stage_stats.stage_statistics`) and the final structure;
- one **trajectory metadata** contract: ``inputs_hash``, ``protocol``, ``forcefield``
  (the potential's name), ``seed``, ``species_labels``, ``engine``.

A run starts from the structure's positions; the input's velocities are not used: every
engine draws Gaussian velocities at the first stage's start temperature from the run's seed
(zero total momentum), and an NVE first stage starts at rest.

Units at the backend boundary: Å, eV, ps, K, GPa; velocities in Å/ps.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import EngineError, InputFileError
from vitreous.io.h5md import H5MDWriter
from vitreous.io.structures import atomic_write, write_structure
from vitreous.protocols import Protocol, Stage
from vitreous.species import type_map
from vitreous.units import A_PS_PER_ASE_VELOCITY, AMU_A2_PS2_TO_EV, BOLTZMANN_EV_K, FS_TO_PS

__all__ = ["THERMO_KEYS", "Backend", "FailureLimits", "MDRun", "RunResult"]

CHECKPOINT = "checkpoint.json"
RESTART = "checkpoint.restart"
TRAJECTORY = "trajectory.h5"
SUMMARY = "summary.json"
FINAL = "final.extxyz"

#: what :meth:`Backend.thermo` returns (K, GPa, eV, eV, Å³, g/cm³, eV, count)
THERMO_KEYS = (
    "temperature",
    "pressure",
    "potential_energy",
    "kinetic_energy",
    "volume",
    "density",
    "enthalpy",
    "atoms",
)


@dataclass(frozen=True)
class FailureLimits:
    """When a run counts as failed.

    Parameters
    ----------
    runaway_factor : float
        A run fails when T exceeds ``runaway_factor`` × the stage's highest target
        temperature + 1000 K (NVE: × the stage's first temperature).
    max_speed_A_ps : float
        A run fails when any atom moves faster than this (Å/ps): atoms flying apart.
    min_distance_A : dict, optional
        Close-contact thresholds per element pair (``"Na-O"``, symbols sorted): a run fails
        when a pair comes closer (checked at every thermo/trajectory chunk). Machine-learned
        potentials set it from the shortest distances in their training data.
    """

    runaway_factor: float = 3.0
    max_speed_A_ps: float = 500.0
    min_distance_A: dict[str, float] | None = None


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


class Backend(ABC):
    """What an engine implements for :class:`MDRun`.

    The driver calls, in order: :meth:`open` once, then per stage :meth:`begin_stage` and
    repeatedly :meth:`advance`, :meth:`thermo`, :meth:`state` and (at checkpoints)
    :meth:`save_restart`; :meth:`close` always. Steps are global (counted from the start of
    the protocol).
    """

    #: engine name written into summaries and trajectory metadata
    name: str = ""
    #: False when the engine cannot compute the pressure (then reported as NaN, not checked)
    pressure_known: bool = True

    @property
    def is_root(self) -> bool:
        """Whether this process writes files (MPI rank 0; always True without MPI)."""
        return True

    def barrier(self) -> None:  # noqa: B027 - optional hook
        """Wait for every process (MPI engines)."""

    @abstractmethod
    def inputs(self) -> dict[str, Any]:
        """JSON-able description of the potential and engine settings that change the
        trajectory (part of the inputs hash)."""

    @abstractmethod
    def open(self, atoms: Atoms, run_dir: Path, restart: Path | None, first_stage: Stage, seed: int) -> None:
        """Start the engine on ``atoms`` (velocities drawn at the first stage's start
        temperature with ``seed`` unless it is NVE), or from ``restart``."""

    @abstractmethod
    def begin_stage(self, stage: Stage, index: int, begin_step: int, end_step: int, seed: int) -> None:
        """Set the integrator/thermostat of ``stage`` (global steps ``begin_step`` to ``end_step``);
        ``seed`` feeds its stochastic parts."""

    @abstractmethod
    def advance(self, n_steps: int) -> None:
        """Advance ``n_steps`` steps of the current stage (ramps follow the global step)."""

    @abstractmethod
    def step(self) -> int:
        """Current global step."""

    @abstractmethod
    def thermo(self) -> dict[str, float]:
        """Instantaneous :data:`THERMO_KEYS` (K, GPa, eV, eV, Å³, g/cm³, eV, atoms)."""

    @abstractmethod
    def state(self, positions: bool) -> dict[str, np.ndarray]:
        """``velocities`` (Å/ps); with ``positions``, also unwrapped ``positions`` and
        ``cell`` (Å) in the frame and atom order of the input structure."""

    @abstractmethod
    def save_restart(self, path: Path) -> None:
        """Write everything needed to continue exactly (positions, velocities, thermostat and
        barostat state, random state) to ``path``."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine."""

    def settings_summary(self) -> dict[str, Any]:
        """Extra entries for ``summary.json`` (threads, Coulomb, ...)."""
        return {}


def inputs_hash(payload: dict[str, Any]) -> str:
    """Short hash of a run's inputs (resume guard)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stage_seed(seed: int, index: int) -> int:
    """Seed of stage ``index``'s stochastic thermostat (positive, < 2³¹ − 1)."""
    return (seed * 7919 + 104729 * (index + 1)) % (2**31 - 2) + 1


class MDRun:
    """MD of one structure with one potential and one protocol on one engine.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic starting structure with a ``valence`` array (defaults applied otherwise).
    backend : Backend
        The engine (e.g. :class:`~vitreous.engines.lammps.LammpsBackend`,
        :class:`~vitreous.engines.ase_md.AseBackend`).
    protocol : Protocol
        Stages to run.
    run_dir : path
        Output folder (created); holds trajectory.h5, final.extxyz, summary.json and
        checkpoints.
    seed : int
        Seed of initial velocities and stochastic thermostats.
    potential_name : str
        Name written into the trajectory metadata.
    limits : FailureLimits
        When the run counts as failed.
    """

    def __init__(
        self,
        atoms: Atoms,
        backend: Backend,
        protocol: Protocol,
        run_dir: str | os.PathLike,
        seed: int = 0,
        potential_name: str = "",
        limits: FailureLimits | None = None,
    ) -> None:
        if not all(atoms.pbc):
            raise InputFileError("the structure is not periodic in all directions", hint="set a cell and pbc")
        if atoms.cell.volume <= 0:
            raise InputFileError("the structure has no cell volume", hint="give it a periodic cell")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31 - 1:
            raise EngineError(f"seed must be an integer in [0, 2^31-1), got {seed!r}")
        self.atoms = atoms.copy()
        self.species, self.types, self.labels = type_map(self.atoms)
        self.backend = backend
        self.protocol = protocol
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.potential_name = potential_name
        self.limits = limits or FailureLimits()
        self.inputs = {
            "structure": {
                "symbols": self.atoms.get_chemical_symbols(),
                "positions": np.round(self.atoms.positions, 8).tolist(),
                "cell": np.round(self.atoms.cell.array, 8).tolist(),
                "valence": self.atoms.arrays["valence"].tolist(),
            },
            **backend.inputs(),
            "protocol": protocol.to_dict(),
            "seed": seed,
        }
        self.inputs_hash = inputs_hash(self.inputs)
        self._t_reference: float | None = None  # first T of an NVE stage (runaway check)

    # ------------------------------------------------------------------ guard
    def _guard(self) -> tuple[RunResult | None, dict[str, Any] | None]:
        """A finished run to return, or the checkpoint to resume (None: a fresh start)."""
        summary_path = self.run_dir / SUMMARY
        ckpt_path = self.run_dir / CHECKPOINT
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            if summary.get("inputs_hash") == self.inputs_hash and summary.get("status") == "complete":
                return RunResult(self.run_dir, self.run_dir / TRAJECTORY, self.run_dir / FINAL, summary, True), None
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
        if ckpt is None and (self.run_dir / TRAJECTORY).exists() and self.backend.is_root:
            # killed before the first checkpoint: nothing reusable
            (self.run_dir / TRAJECTORY).unlink()
        return None, ckpt

    def _check_contacts(self, positions: np.ndarray, cell: np.ndarray, where: str) -> None:
        """Fail on a pair of atoms closer than its element pair's threshold."""
        limits = self.limits.min_distance_A or {}
        if not limits:
            return
        from ase.geometry import wrap_positions
        from vesin import NeighborList

        i, j, d = NeighborList(cutoff=max(limits.values()), full_list=False).compute(
            points=wrap_positions(positions, cell), box=cell, periodic=True, quantities="ijd"
        )
        sym = np.array(self.atoms.get_chemical_symbols())
        for a, b, r in zip(i, j, d, strict=True):
            key = "-".join(sorted((str(sym[a]), str(sym[b]))))
            if r < limits.get(key, 0.0):
                raise EngineError(
                    f"close contact in {where}: {key} atoms {a} and {b} at {r:.2f} Å "
                    f"(below {limits[key]:.2f} Å, outside what the potential was trained on)",
                    hint="the model is extrapolating: add such structures to its training set, or lower the timestep",
                )

    def _check(self, thermo: dict[str, float], stage: Stage, step: int, velocities: np.ndarray | None) -> None:
        where = f"stage '{stage.name}' at step {step}"
        if round(thermo["atoms"]) != len(self.atoms):
            raise EngineError(f"atoms lost in {where}: {thermo['atoms']:.0f} of {len(self.atoms)} remain")
        checked = ("temperature", "potential_energy") + (("pressure",) if self.backend.pressure_known else ())
        if not all(math.isfinite(thermo[k]) for k in checked):
            raise EngineError(f"non-finite energy or temperature in {where}", hint="lower the timestep")
        if stage.ensemble == "limit":
            # this stage absorbs the overlap energy of a random start: its transient
            # temperature is high by design and moves are capped
            return
        t_target = stage.max_temperature_K
        if t_target is None:  # NVE: the temperature the stage started from
            if self._t_reference is None:
                self._t_reference = thermo["temperature"]
            t_target = self._t_reference
        limit = self.limits.runaway_factor * t_target + 1000.0
        if thermo["temperature"] > limit:
            raise EngineError(
                f"temperature runaway in {where}: {thermo['temperature']:.0f} K > {limit:.0f} K",
                hint="lower the timestep or start with a displacement-limited stage",
            )
        if velocities is not None:
            vmax = float(np.sqrt((velocities**2).sum(axis=1).max()))
            if vmax > self.limits.max_speed_A_ps:
                raise EngineError(
                    f"atoms flying apart in {where}: speed {vmax:.0f} Å/ps",
                    hint="lower the timestep or check the potential",
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
            On lost atoms, NaN energies, temperature runaway, atoms flying apart, or an
            engine error; the trajectory written so far stays readable.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done, ckpt = self._guard()
        if done is not None:
            return done
        backend = self.backend
        t_wall = time.perf_counter()
        want_v = any(s.velocities for s in self.protocol.stages)
        writer: H5MDWriter | None = None
        reporter = _Progress(progress if backend.is_root else False, self.protocol)
        restart = None if ckpt is None else self.run_dir / RESTART
        if ckpt is None and self.limits.min_distance_A:
            self._check_contacts(self.atoms.positions, self.atoms.cell.array, "the starting structure")
        try:
            backend.open(self.atoms, self.run_dir, restart, self.protocol.stages[0], self.seed)
            if ckpt is None:
                start_stage, n_frames, n_thermo = 0, 0, 0
                if backend.is_root:
                    writer = H5MDWriter(
                        self.run_dir / TRAJECTORY, "w", atoms=self.atoms, velocities=want_v, metadata=self._metadata()
                    )
            else:
                start_stage, n_frames, n_thermo = ckpt["stage"], ckpt["frames"], ckpt["thermo_rows"]
                if backend.is_root:
                    writer = H5MDWriter(self.run_dir / TRAJECTORY, "a")
                    writer.truncate(n_frames, n_thermo)
                reporter.resumed(ckpt["step"])
            bounds = self.protocol.stage_bounds()
            for index in range(start_stage, len(self.protocol.stages)):
                stage = self.protocol.stages[index]
                begin, end = bounds[index]
                t_begin = sum(s.duration_ps for s in self.protocol.stages[:index])
                step = backend.step() if (ckpt is not None and index == start_stage) else begin
                backend.begin_stage(stage, index, begin, end, stage_seed(self.seed, index))
                self._t_reference = None
                n_frames, n_thermo = self._run_stage(
                    stage, index, step, begin, end, t_begin, writer, reporter, n_frames, n_thermo, want_v
                )
            final = backend.state(positions=True)
            thermo = backend.thermo()
        except EngineError:
            if writer is not None:
                writer.close()
                writer = None
            raise
        finally:
            reporter.close()
            if writer is not None:
                writer.close()
            backend.close()
        wall = time.perf_counter() - t_wall
        summary = self._finish(final, thermo, wall, n_frames, ckpt is not None)
        return RunResult(self.run_dir, self.run_dir / TRAJECTORY, self.run_dir / FINAL, summary, ckpt is not None)

    def _run_stage(
        self,
        stage: Stage,
        index: int,
        step: int,
        begin: int,
        end: int,
        t_begin: float,
        writer: H5MDWriter | None,
        reporter: _Progress,
        n_frames: int,
        n_thermo: int,
        want_v: bool,
    ) -> tuple[int, int]:
        """Advance one stage in chunks from ``step`` to ``end``, checking and buffering."""
        backend = self.backend
        chunk = (
            stage.thermo_every if not stage.trajectory_every else math.gcd(stage.thermo_every, stage.trajectory_every)
        )
        chunk = math.gcd(chunk, stage.checkpoint_every)
        frames: list[tuple] = []
        rows: list[tuple] = []
        dt_ps = stage.timestep_fs * FS_TO_PS
        while step < end:
            n = min(chunk, end - step)
            backend.advance(n)
            step += n
            t_ps = t_begin + (step - begin) * dt_ps
            thermo = backend.thermo()
            need_frame = bool(stage.trajectory_every) and (step - begin) % stage.trajectory_every == 0
            state = backend.state(positions=need_frame or bool(self.limits.min_distance_A))
            thermo |= self._element_temperatures(state["velocities"])
            self._check(thermo, stage, step, state["velocities"])
            if self.limits.min_distance_A:
                self._check_contacts(state["positions"], state["cell"], f"stage '{stage.name}' at step {step}")
            if (step - begin) % stage.thermo_every == 0 or step == end:
                rows.append((step, t_ps, thermo))
            if need_frame:
                frames.append((step, t_ps, state))
            reporter.update(stage, step, thermo["temperature"])
            if (step - begin) % stage.checkpoint_every == 0 or step == end:
                stage_index = index if step < end else index + 1
                n_frames, n_thermo = self._checkpoint(
                    writer, frames, rows, stage_index, step, n_frames, n_thermo, want_v
                )
                frames, rows = [], []
        return n_frames, n_thermo

    def _element_temperatures(self, velocities: np.ndarray) -> dict[str, float]:
        """Kinetic temperature of each element (K) from velocities (Å/ps), each counting
        3·N_el·(N − 1)/N degrees of freedom so that their N_el-weighted mean is the reported
        temperature (3N − 3 degrees of freedom). A thermostat acting on all atoms can hold the
        total while one element runs hot or cold (an energy source in part of the model)."""
        if not hasattr(self, "_el_index"):
            symbols = np.array(self.atoms.get_chemical_symbols())
            n = len(symbols)
            self._el_index = {
                el: (np.flatnonzero(symbols == el), 3 * (symbols == el).sum() * (n - 1) / n)
                for el in sorted(set(symbols))
            }
            self._masses = self.atoms.get_masses()
        v2 = (np.asarray(velocities) ** 2).sum(axis=1) * self._masses * AMU_A2_PS2_TO_EV  # 2 × KE
        return {
            f"temperature_{el}": float(v2[idx].sum() / (dof * BOLTZMANN_EV_K)) if dof > 0 else float("nan")
            for el, (idx, dof) in self._el_index.items()
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "inputs_hash": self.inputs_hash,
            "protocol": self.protocol.to_dict(),
            "forcefield": self.potential_name,
            "seed": self.seed,
            "species_labels": self.labels,
            "engine": self.backend.name,
        }

    def _checkpoint(
        self,
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
        if self.backend.is_root and writer is not None:
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
                    {k: [t[2][k] for t in thermo] for k in thermo[0][2] if k != "atoms"},
                )
            writer.flush()
        n_frames += len(frames)
        n_thermo += len(thermo)
        tmp = self.run_dir / (RESTART + ".tmp")
        self.backend.save_restart(tmp)
        if self.backend.is_root:
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
        atoms.set_velocities(final["velocities"] / A_PS_PER_ASE_VELOCITY)
        stages = []
        if self.backend.is_root and (self.run_dir / TRAJECTORY).is_file():
            from vitreous.engines.stage_stats import stage_statistics
            from vitreous.io.h5md import H5MDTrajectory

            with H5MDTrajectory(self.run_dir / TRAJECTORY) as traj:
                stages = stage_statistics(self.protocol, traj.observables())
        summary = {
            "status": "complete",
            "inputs_hash": self.inputs_hash,
            "engine": self.backend.name,
            **self.backend.settings_summary(),
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
        if self.backend.is_root:
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
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
            self.callback({"stage": stage.name, "step": step, "total_steps": self.total, "temperature_K": temperature})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
