"""The ASE backend of the MD driver: any ASE calculator (an MLIP, or a classical force field
through :class:`~vitreous.engines.lammps_calculator.LammpsCalculator`).

Stages map to ASE integrators:

========================  =====================================================================
stage                     ASE integrator
========================  =====================================================================
``nve``                   ``VelocityVerlet``
``nvt`` nose-hoover       ``NoseHooverChainNVT`` (chain of ``thermostat_chain``; MKT 1992)
``nvt`` csvr              ``Bussi`` (stochastic velocity rescaling; Bussi et al. 2007)
``langevin``              ``Langevin`` (centre of mass fixed), damping time = 1/friction
``limit``                 ``Langevin`` with each step's displacement capped at
                          ``max_displacement_A`` (the counterpart of LAMMPS ``nve/limit``)
``npt`` nose-hoover       ``IsotropicMTKNPT`` (Martyna, Tobias, Klein 1994), constant T only
========================  =====================================================================

Temperature ramps (``t_start_K`` ≠ ``t_end_K``) follow the global step, as LAMMPS does: the
target of step s is T0 + (T1 − T0)(s − begin)/(end − begin), set before the step. ASE's
thermostats count 3N degrees of freedom while the momentum-conserving dynamics has 3N − 3
(the convention of LAMMPS' ``temp`` and of the temperature this backend reports): targets are
passed to ASE's Nosé–Hoover chain, MTK and Bussi as T·(3N − 3)/(3N), so the reported T holds
the stage's target (ASE's Langevin with a fixed centre of mass already thermalises 3N − 3).

The restart file (pickle) holds the step, positions, momenta, cell and the integrator's
state (thermostat/barostat variables, random generator), so a resumed run continues the same
trajectory: bit for bit for deterministic integrators, and for stochastic ones too since the
generator state travels with it.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from vitreous.engines.driver import Backend
from vitreous.errors import EngineError
from vitreous.protocols import Stage
from vitreous.units import A_PS_PER_ASE_VELOCITY, BOLTZMANN_EV_K, EV_PER_A3_TO_GPA, density_g_cm3

__all__ = ["AseBackend"]

# integrator attributes that are not state (or cannot be pickled)
_NOT_STATE = {"atoms", "observers", "trajectory", "logfile", "comm", "optimizable", "calc"}


def _integrator_state(dyn: Any) -> dict[str, Any]:
    state = {}
    for key, value in vars(dyn).items():
        if key in _NOT_STATE:
            continue
        try:
            pickle.dumps(value)
        except Exception:
            continue
        state[key] = value
    return state


class AseBackend(Backend):
    """Any ASE calculator under the MD driver.

    Parameters
    ----------
    calculator : ase Calculator
        Gives energy and forces (and stress for NPT).
    description : dict
        JSON-able description of the calculator (what produced it, its parameters); part of
        the run's inputs hash and summary. Default: the calculator's ``describe()`` if it has
        one, else its class name and parameters.
    """

    name = "ase"

    def __init__(self, calculator: Calculator, description: dict[str, Any] | None = None) -> None:
        self.calculator = calculator
        if description is None:
            describe = getattr(calculator, "describe", None)
            if callable(describe):
                description = describe()
            else:
                params = dict(getattr(calculator, "parameters", {}))
                description = {"calculator": type(calculator).__name__, "parameters": params}
        self.description = description
        self._dyn: Any = None
        self._restored: dict[str, Any] | None = None

    def inputs(self) -> dict[str, Any]:
        return {"potential": self.description}

    def settings_summary(self) -> dict[str, Any]:
        return {"potential": self.description}

    # ------------------------------------------------------------------ life cycle
    def open(self, atoms: Atoms, run_dir: Path, restart: Path | None, first_stage: Stage, seed: int) -> None:
        self.atoms = atoms.copy()
        self.atoms.calc = self.calculator
        self._n = len(atoms)
        self._dof_ratio = (3 * self._n - 3) / (3 * self._n)
        if restart is not None:
            with open(restart, "rb") as fh:
                saved = pickle.load(fh)
            self.atoms.set_cell(saved["cell"])
            self.atoms.set_positions(saved["positions"])
            self.atoms.set_momenta(saved["momenta"])
            self._step = int(saved["step"])
            self._restored = saved
        else:
            # as on LAMMPS: the input's velocities are not used; an NVE first stage starts at rest
            self._step = 0
            self.atoms.set_momenta(np.zeros((self._n, 3)))
            if first_stage.ensemble != "nve":
                self._initial_velocities(first_stage.t_start_K, seed + 1)

    def _initial_velocities(self, t_K: float, seed: int) -> None:
        """Gaussian velocities at exactly ``t_K`` (3N − 3 degrees of freedom), zero momentum."""
        rng = np.random.default_rng(seed)
        m = self.atoms.get_masses()[:, None]
        v = rng.standard_normal((self._n, 3)) / np.sqrt(m)
        v -= (m * v).sum(axis=0) / m.sum()
        p = m * v
        ke = 0.5 * float((p**2 / m).sum())
        target = 0.5 * (3 * self._n - 3) * units.kB * t_K
        self.atoms.set_momenta(p * np.sqrt(target / ke) if ke > 0 else p)

    def close(self) -> None:
        self._dyn = None

    # ------------------------------------------------------------------ stages
    def _ase_temperature(self, t_K: float, stage: Stage) -> float:
        # Langevin with a fixed centre of mass already equilibrates 3N − 3 degrees of freedom
        return t_K if stage.ensemble in ("langevin", "limit") else t_K * self._dof_ratio

    def begin_stage(self, stage: Stage, index: int, begin_step: int, end_step: int, seed: int) -> None:
        from ase.md.bussi import Bussi
        from ase.md.langevin import Langevin
        from ase.md.nose_hoover_chain import IsotropicMTKNPT, NoseHooverChainNVT
        from ase.md.verlet import VelocityVerlet

        dt = stage.timestep_fs * units.fs
        tdamp = stage.thermostat_damping_fs * units.fs
        t0 = self._ase_temperature(stage.t_start_K, stage) if stage.t_start_K is not None else None
        rng = np.random.default_rng(seed)
        self._stage, self._range = stage, (begin_step, end_step)
        if stage.thermostat_per_element:
            raise EngineError(
                f"stage '{stage.name}': the ASE engine has no per-element thermostat",
                hint="run this stage on LAMMPS, or with one thermostat on all atoms",
            )
        if stage.thermostat_exclude:
            raise EngineError(
                f"stage '{stage.name}': the ASE engine cannot leave elements out of the thermostat",
                hint="run this stage on LAMMPS",
            )
        if stage.ensemble == "nve":
            dyn = VelocityVerlet(self.atoms, dt)
        elif stage.ensemble == "nvt" and stage.thermostat == "csvr":
            dyn = Bussi(self.atoms, dt, temperature_K=t0, taut=tdamp, rng=rng)
        elif stage.ensemble == "nvt":
            dyn = NoseHooverChainNVT(self.atoms, dt, temperature_K=t0, tdamp=tdamp, tchain=stage.thermostat_chain)
        elif stage.ensemble in ("langevin", "limit"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # fixcm is deprecated in ASE but is what we want
                dyn = Langevin(self.atoms, dt, temperature_K=t0, friction=1.0 / tdamp, fixcm=True, rng=rng)
        elif stage.ensemble == "npt" and "stress" not in getattr(self.calculator, "implemented_properties", ()):
            raise EngineError(f"stage '{stage.name}': NPT needs the stress, which this calculator does not give")
        elif stage.ensemble == "npt" and stage.thermostat != "csvr":
            if stage.t_end_K != stage.t_start_K:
                raise EngineError(
                    f"stage '{stage.name}': the ASE engine has no NPT temperature ramp",
                    hint="run the ramp on LAMMPS, or as NVT on ASE",
                )
            dyn = IsotropicMTKNPT(
                self.atoms,
                dt,
                temperature_K=t0,
                pressure_au=stage.pressure_GPa / EV_PER_A3_TO_GPA,
                tdamp=tdamp,
                pdamp=stage.barostat_damping_fs * units.fs,
                tchain=stage.thermostat_chain,
            )
        else:
            raise EngineError(
                f"stage '{stage.name}': ensemble {stage.ensemble} with {stage.thermostat} is not available on ASE",
                hint="use nose-hoover for NPT",
            )
        if self._restored is not None:
            vars(dyn).update(self._restored["integrator"])
            self._restored = None
        self._dyn = dyn

    def _set_target(self, step: int) -> None:
        """Target temperature of ``step`` on a ramp (see the module text)."""
        st = self._stage
        if st.t_start_K is None or st.t_end_K == st.t_start_K:
            return
        begin, end = self._range
        t = self._ase_temperature(st.t_start_K + (st.t_end_K - st.t_start_K) * (step - begin) / (end - begin), st)
        dyn = self._dyn
        kt = units.kB * t
        if hasattr(dyn, "_thermostat"):  # Nosé–Hoover chain: target and chain masses (as LAMMPS)
            th = dyn._thermostat
            th._kT = kt
            th._Q[0] = 3 * th._num_atoms_global * kt * th._tdamp**2
            th._Q[1:] = kt * th._tdamp**2
        elif hasattr(dyn, "target_kinetic_energy"):  # Bussi
            dyn.temp = kt
            dyn.target_kinetic_energy = 0.5 * kt * dyn.ndof
        elif hasattr(dyn, "set_temperature"):  # Langevin
            dyn.set_temperature(temperature_K=t)

    def advance(self, n_steps: int) -> None:
        dyn, stage = self._dyn, self._stage
        limit = stage.max_displacement_A if stage.ensemble == "limit" else None
        try:
            for _ in range(n_steps):
                self._set_target(self._step + 1)
                before = self.atoms.get_positions() if limit else None
                dyn.step()
                if limit:
                    self._cap(before, limit, stage.timestep_fs * units.fs)
                self._step += 1
        except Exception as exc:  # the calculator's or integrator's own failure
            raise EngineError(f"ASE/calculator failed in stage '{stage.name}' near step {self._step}: {exc}") from exc

    def _cap(self, before: np.ndarray, limit_A: float, dt: float) -> None:
        """Scale back moves longer than ``limit_A`` and the matching velocities."""
        pos = self.atoms.get_positions()
        d = pos - before
        norm = np.linalg.norm(d, axis=1)
        over = norm > limit_A
        if not over.any():
            return
        scale = limit_A / norm[over]
        pos[over] = before[over] + d[over] * scale[:, None]
        self.atoms.set_positions(pos)
        v = self.atoms.get_velocities()
        speed = np.linalg.norm(v[over], axis=1) * dt
        cap = np.minimum(1.0, limit_A / np.maximum(speed, 1e-300))
        v[over] *= cap[:, None]
        self.atoms.set_velocities(v)

    def step(self) -> int:
        return self._step

    # ------------------------------------------------------------------ state
    def thermo(self) -> dict[str, float]:
        a = self.atoms
        try:
            pe = float(a.get_potential_energy())
        except Exception as exc:
            raise EngineError(f"ASE/calculator failed at step {self._step}: {exc}") from exc
        ke = float(a.get_kinetic_energy())
        volume = float(a.get_volume())
        temperature = 2.0 * ke / ((3 * self._n - 3) * BOLTZMANN_EV_K)
        pressure_ev_a3 = 2.0 * ke / (3.0 * volume)
        try:
            stress = a.get_stress(voigt=True, include_ideal_gas=False)
            pressure_ev_a3 -= float(stress[:3].sum()) / 3.0
        except Exception:  # a calculator without stress: the pressure is unknown, and said so (NaN)
            if self._stage.ensemble == "npt":
                raise EngineError(
                    f"stage '{self._stage.name}': NPT needs the stress, which this calculator does not give"
                ) from None
            self.pressure_known = False
            pressure_ev_a3 = float("nan")
        return {
            "temperature": temperature,
            "pressure": pressure_ev_a3 * EV_PER_A3_TO_GPA,
            "potential_energy": pe,
            "kinetic_energy": ke,
            "volume": volume,
            "density": density_g_cm3(float(a.get_masses().sum()), volume),
            "enthalpy": pe + ke + pressure_ev_a3 * volume,
            "atoms": float(self._n),
        }

    def state(self, positions: bool) -> dict[str, np.ndarray]:
        out = {"velocities": self.atoms.get_velocities() * A_PS_PER_ASE_VELOCITY}
        if positions:
            out["positions"] = self.atoms.get_positions()  # ASE integrators do not wrap
            out["cell"] = self.atoms.cell.array.copy()
        return out

    def save_restart(self, path: Path) -> None:
        saved = {
            "step": self._step,
            "positions": self.atoms.get_positions(),
            "momenta": self.atoms.get_momenta(),
            "cell": self.atoms.cell.array.copy(),
            "integrator": _integrator_state(self._dyn) if self._dyn is not None else {},
        }
        with open(path, "wb") as fh:
            pickle.dump(saved, fh)

    def single_point(self) -> tuple[float, np.ndarray]:
        """Potential energy (eV) and forces (eV/Å) of the current structure."""
        return float(self.atoms.get_potential_energy()), self.atoms.get_forces()
