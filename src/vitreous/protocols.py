"""Engine-independent MD protocols: ordered stages with ensembles and temperature ramps.

A :class:`Stage` says what to run (ensemble, start→end temperature, pressure, steps,
timestep, output intervals); a :class:`Protocol` is a named tuple of stages. Recipes build
the protocols of the NVP study: :func:`melt_quench`, :func:`tg_cooling` (continuous NPT
cooling; :func:`tg_scan` is the stepwise variant) and :func:`diffusion`.
Protocols round-trip through TOML (:meth:`Protocol.to_toml`, :meth:`Protocol.from_toml`).
"""

from __future__ import annotations

import inspect
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

import tomli_w

from vitreous.errors import ProtocolError
from vitreous.units import FS_TO_PS

__all__ = [
    "DIFFUSION_THERMOSTAT",
    "ENERGY_CONSERVING_THERMOSTAT",
    "ENSEMBLES",
    "MELT_QUENCH_THERMOSTAT",
    "TG_THERMOSTAT",
    "THERMOSTATS",
    "Ensemble",
    "Protocol",
    "Stage",
    "Thermostat",
    "diffusion",
    "melt_quench",
    "tg_cooling",
    "tg_scan",
]

#: nve; nvt (Nosé–Hoover); npt (Nosé–Hoover, isotropic); langevin (NVE + Langevin bath);
#: limit (displacement-limited NVE + Langevin bath, for random starting structures).
Ensemble = Literal["nve", "nvt", "npt", "langevin", "limit"]
ENSEMBLES: tuple[str, ...] = get_args(Ensemble)

#: Thermostat of the ``nvt`` and ``npt`` ensembles:
#:
#: - ``nose-hoover``: Nosé–Hoover chain (LAMMPS ``fix nvt``/``npt``, chain of 3).
#: - ``csvr``: stochastic velocity rescaling (Bussi, Donadio, Parrinello, J. Chem. Phys. 126
#:   (2007) 014101; ``fix temp/csvr`` on ``fix nve``/``fix nph``).
#:
#: With a force field that injects energy (BMP's truncated three-body terms) a thermostat
#: settles above its target by roughly the injected power times its damping time. Measured
#: on NVP28 with BMP (``benchmarks/bench_thermostat.py``): Nosé–Hoover chain +6.5 % at
#: 1300 K and +6.2 % at 1900 K with 100 fs damping, +0.8 % and +0.6 % with 25 fs (T
#: fluctuations canonical, Na D unchanged within its error); CSVR +15 % (100 fs), +1.2 %
#: (10 fs). Hence the default damping: 25 fs. One thermostat on all atoms holds only their
#: mean, while the three-body terms heat the network and the Na ions run cold (−8 % at 1600 K);
#: the recipes below use one thermostat per element (``Stage.thermostat_per_element``) and
#: record each element's temperature (``vitreous.engines.stage_stats``).
Thermostat = Literal["nose-hoover", "csvr"]
THERMOSTATS: tuple[str, ...] = get_args(Thermostat)
#: ensembles a melt–quench may use (fixed volume or fixed pressure)
MeltQuenchEnsemble = Literal["nvt", "npt"]
MELT_QUENCH_ENSEMBLES: tuple[str, ...] = get_args(MeltQuenchEnsemble)


@dataclass(frozen=True)
class Stage:
    """One MD stage.

    Parameters
    ----------
    name : str
        Label (unique within a protocol).
    ensemble : Ensemble
        See :data:`Ensemble`.
    steps : int
        Number of MD steps (> 0).
    timestep_fs : float
        Time step (fs).
    t_start_K, t_end_K : float, optional
        Thermostat temperature at the start and end (a linear ramp when different);
        required except for ``nve``; ``t_end_K`` defaults to ``t_start_K``.
    pressure_GPa : float, optional
        Target pressure for ``npt`` (GPa).
    max_displacement_A : float
        Largest move per step of the ``limit`` ensemble (Å).
    thermostat : Thermostat
        Thermostat of ``nvt``/``npt`` stages (see :data:`Thermostat`).
    thermostat_chain : int
        Length of the Nosé–Hoover chain (``nose-hoover`` thermostat; 1: Nosé–Hoover without
        a chain). See :data:`Thermostat`.
    thermostat_per_element : bool
        One thermostat per element (``nvt`` with ``nose-hoover`` or ``csvr``; LAMMPS engine),
        each holding its element's kinetic temperature at the target, where one thermostat on
        all atoms holds only their mean: with an energy source in part of the model (BMP's
        three-body terms heat the network) the Na ions then run colder than the target.
    thermostat_damping_fs, barostat_damping_fs : float
        Relaxation times (fs). The thermostat's default, 25 fs, is short because a longer
        one lets BMP's energy injection heat the run (see :data:`Thermostat`); the
        Langevin baths of ``langevin``/``limit`` use it too.
    trajectory_every, thermo_every, checkpoint_every : int
        Output intervals in steps (0: no trajectory frames).
    velocities : bool
        Store velocities with trajectory frames.
    thermostat_exclude : tuple of str, optional
        Elements left out of the thermostat (``nvt``, ``langevin``): they follow Newton's
        equations (velocity Verlet) and exchange heat with the thermostatted rest only
        through their interactions, e.g. the mobile Na of a diffusion run, whose dynamics a
        thermostat would otherwise act on directly.
    """

    name: str
    ensemble: Ensemble
    steps: int
    timestep_fs: float = 1.0
    t_start_K: float | None = None
    t_end_K: float | None = None
    pressure_GPa: float | None = None
    max_displacement_A: float = 0.1
    thermostat: Thermostat = "nose-hoover"
    thermostat_damping_fs: float = 25.0
    thermostat_chain: int = 3
    thermostat_per_element: bool = False
    barostat_damping_fs: float = 1000.0
    trajectory_every: int = 0
    thermo_every: int = 100
    checkpoint_every: int = 5000
    velocities: bool = False
    thermostat_exclude: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        where = f"stage '{self.name}'"
        if self.thermostat_exclude is not None:
            excl = self.thermostat_exclude
            if isinstance(excl, str) or not all(isinstance(e, str) and e.isalpha() for e in excl) or not excl:
                raise ProtocolError(f"{where}: thermostat_exclude must be a non-empty list of element symbols")
            if self.ensemble not in ("nvt", "langevin"):
                raise ProtocolError(f"{where}: thermostat_exclude is only for nvt and langevin stages")
            object.__setattr__(self, "thermostat_exclude", tuple(excl))
        if self.ensemble not in ENSEMBLES:
            raise ProtocolError(
                f"{where}: unknown ensemble '{self.ensemble}'",
                hint=f"one of {', '.join(ENSEMBLES)}",
            )
        if self.thermostat not in THERMOSTATS:
            raise ProtocolError(
                f"{where}: unknown thermostat '{self.thermostat}'",
                hint=f"one of {', '.join(THERMOSTATS)}",
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps <= 0:
            raise ProtocolError(f"{where}: steps must be a positive integer, got {self.steps!r}")
        if not (0 < self.timestep_fs <= 10) or not math.isfinite(self.timestep_fs):
            raise ProtocolError(f"{where}: timestep must be in (0, 10] fs, got {self.timestep_fs}")
        if self.ensemble != "nve":
            if self.t_start_K is None:
                raise ProtocolError(f"{where}: {self.ensemble} needs t_start_K")
            if self.t_end_K is None:
                object.__setattr__(self, "t_end_K", self.t_start_K)
        for t in (self.t_start_K, self.t_end_K):
            if t is not None and (not math.isfinite(t) or t <= 0):
                raise ProtocolError(f"{where}: temperatures must be positive (K), got {t}")
        if self.ensemble == "npt" and self.pressure_GPa is None:
            raise ProtocolError(f"{where}: npt needs pressure_GPa")
        if self.ensemble != "npt" and self.pressure_GPa is not None:
            raise ProtocolError(f"{where}: pressure_GPa is only for npt")
        for name in ("trajectory_every", "thermo_every", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ProtocolError(f"{where}: {name} must be a non-negative integer")
        if self.thermo_every <= 0 or self.checkpoint_every <= 0:
            raise ProtocolError(f"{where}: thermo_every and checkpoint_every must be positive")
        if not isinstance(self.thermostat_per_element, bool):
            raise ProtocolError(f"{where}: thermostat_per_element must be true or false")
        if self.thermostat_per_element and self.ensemble != "nvt":
            raise ProtocolError(f"{where}: thermostat_per_element is only for nvt stages")
        if self.thermostat_per_element and self.thermostat_exclude:
            raise ProtocolError(f"{where}: thermostat_per_element and thermostat_exclude cannot be combined")
        chain = self.thermostat_chain
        if isinstance(chain, bool) or not isinstance(chain, int) or not 1 <= chain <= 10:
            raise ProtocolError(f"{where}: thermostat_chain must be an integer from 1 to 10, got {chain!r}")
        for name in ("max_displacement_A", "thermostat_damping_fs", "barostat_damping_fs"):
            if getattr(self, name) <= 0:
                raise ProtocolError(f"{where}: {name} must be positive")

    @property
    def duration_ps(self) -> float:
        """Stage length (ps)."""
        return self.steps * self.timestep_fs * FS_TO_PS

    @property
    def max_temperature_K(self) -> float | None:
        """Largest thermostat temperature of the stage (K)."""
        temps = [t for t in (self.t_start_K, self.t_end_K) if t is not None]
        return max(temps) if temps else None


@dataclass(frozen=True)
class Protocol:
    """A named sequence of stages."""

    name: str
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ProtocolError(f"protocol '{self.name}' has no stages")
        names = [s.name for s in self.stages]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ProtocolError(f"protocol '{self.name}': duplicate stage names {sorted(dupes)}")

    @property
    def total_steps(self) -> int:
        """Steps over all stages."""
        return sum(s.steps for s in self.stages)

    @property
    def duration_ps(self) -> float:
        """Simulated time over all stages (ps)."""
        return sum(s.duration_ps for s in self.stages)

    def stage_bounds(self) -> list[tuple[int, int]]:
        """Global (first, last) step of each stage: stage i covers steps first < s ≤ last."""
        bounds, begin = [], 0
        for st in self.stages:
            bounds.append((begin, begin + st.steps))
            begin += st.steps
        return bounds

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-able dict (None values left out)."""
        return {
            "name": self.name,
            "stages": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.stages],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        """Inverse of :meth:`to_dict`, with errors naming the bad key."""
        if not isinstance(data, dict) or "stages" not in data:
            raise ProtocolError("a protocol needs a [[stages]] list")
        known = {f.name for f in fields(Stage)}
        stages = []
        for i, raw in enumerate(data["stages"]):
            unknown = set(raw) - known
            if unknown:
                raise ProtocolError(
                    f"stage {i + 1}: unknown key(s) {sorted(unknown)}",
                    hint=f"known keys: {sorted(known)}",
                )
            try:
                stages.append(Stage(**raw))
            except TypeError as exc:
                raise ProtocolError(f"stage {i + 1}: {exc}") from None
        return cls(name=str(data.get("name", "protocol")), stages=tuple(stages))

    def to_toml(self, path: str | Path | None = None) -> str:
        """TOML text; also written to ``path`` when given."""
        text = tomli_w.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_toml(cls, source: str | Path) -> Protocol:
        """Load from a TOML file path (or TOML text)."""
        path = Path(source) if not str(source).lstrip().startswith(("[", "name")) else None
        try:
            if path is not None:
                if not path.is_file():
                    from vitreous.errors import InputFileError

                    raise InputFileError(f"cannot read protocol {path}: no such file")
                text = path.read_text()
            else:
                text = str(source)
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ProtocolError(f"protocol is not valid TOML: {exc}") from None


def _steps(ps: float, timestep_fs: float, what: str) -> int:
    if ps <= 0 or not math.isfinite(ps):
        raise ProtocolError(f"{what} must be positive (ps), got {ps}")
    return max(1, round(ps * 1000.0 / timestep_fs))


#: Langevin damping (fs) of the melt–quench anneal at fixed volume. The anneal only samples
#: the glass's structure (no dynamics are analysed from it), and Langevin's per-atom friction
#: removes the energy BMP's truncated three-body terms keep injecting in the glass where it
#: enters: measured on a quenched NVP28 at 300 K (4 ps), Langevin 5 fs held +0.4 % (10 fs
#: +1.0 %) with the canonical T spread, where the Nosé–Hoover chain held +4.9 % (25 fs) and
#: +1.1 % (10 fs) and CSVR +3.7 % (10 fs) (benchmarks/bench_thermostat_glass.py). Langevin
#: samples configurations canonically whatever its friction.
ANNEAL_LANGEVIN_DAMPING_FS = 5.0

#: Thermostat of the melt and quench stages at fixed volume and of diffusion runs: one
#: Nosé–Hoover thermostat per element, without a chain. One thermostat on all atoms holds only
#: their mean while BMP's three-body terms heat the network: the Na ions ran cold (quick-study
#: quench: total +1.7 %, Na −13.8 %, P +6.9 %; 1600 K NVT: Na −8 %). A chain leaks (its second
#: thermostat damps the first), so a steady heat source leaves it hot (per element with chains:
#: quench +1.6 %, 1600 K +0.7 %); without a chain the friction integrates T − T0 and each
#: element's mean is its target (quench 0.0 %, 1900 K +0.02 %, every element within 0.4 %),
#: with the canonical spread of T at 1600 K (66 K against 65 K) and Na D within its
#: seed-to-seed scatter of the chained per-element run (benchmarks/bench_stage_targets.py,
#: benchmarks/bench_thermostat.py; numbers in benchmarks/results/README.md).
MELT_QUENCH_THERMOSTAT: dict[str, Any] = {"thermostat_per_element": True, "thermostat_chain": 1}
DIFFUSION_THERMOSTAT: dict[str, Any] = {"thermostat_per_element": True, "thermostat_chain": 1}
#: Thermostat for a potential without a heat source (an MLIP: smooth, energy-conserving): one
#: Nosé–Hoover chain on all atoms (the Stage defaults), which holds the total and, with nothing
#: heating part of the model, each element (recorded and checked all the same). The chainless
#: per-element thermostat is for BMP's heat; on a quick-study POD (3 active-learning
#: iterations) it drove the melt–quench into P–P close contacts (1.31 and 1.45 Å, quench steps
#: 2550 and 2100, seeds 1 and 2) where one chain on all atoms ran through both (same start).
ENERGY_CONSERVING_THERMOSTAT: dict[str, Any] = {"thermostat_per_element": False, "thermostat_chain": 3}
#: Thermostat of the NPT Tg cooling (LAMMPS fix npt has one thermostat): Nosé–Hoover without a
#: chain, whose mean follows the ramp where the chain ran +1.1 % hot (quick study).
TG_THERMOSTAT: dict[str, Any] = {"thermostat_chain": 1}


def melt_quench(
    t_melt_K: float = 3000.0,
    hold_ps: float = 10.0,
    quench_rate_K_per_ps: float = 100.0,
    t_final_K: float = 300.0,
    anneal_ps: float = 5.0,
    ensemble: MeltQuenchEnsemble = "nvt",
    timestep_fs: float = 1.0,
    pressure_GPa: float = 1e-4,
    relax_ps: float = 2.0,
    trajectory_every: int = 100,
    thermo_every: int = 10,
    checkpoint_every: int = 5000,
    thermostat: dict[str, Any] | None = None,
) -> Protocol:
    """Melt–quench from a random start.

    Stages: ``relax`` (displacement-limited at ``t_melt_K``, removes overlaps of a random
    start), ``melt`` (hold at ``t_melt_K``), ``quench`` (linear ramp at
    ``quench_rate_K_per_ps``), ``anneal`` (hold at ``t_final_K``). ``ensemble`` applies to
    melt/quench/anneal; ``npt`` uses ``pressure_GPa`` (default 1 bar). At fixed volume the
    anneal is a Langevin bath (:data:`ANNEAL_LANGEVIN_DAMPING_FS`): it holds its temperature
    in the glass where a Nosé–Hoover chain does not; melt and quench use
    :data:`MELT_QUENCH_THERMOSTAT` (at fixed pressure only its chain length) unless
    ``thermostat`` (Stage keyword arguments, e.g. :data:`ENERGY_CONSERVING_THERMOSTAT`) is given.
    """
    if ensemble not in MELT_QUENCH_ENSEMBLES:
        raise ProtocolError(f"melt-quench ensemble must be nvt or npt, got '{ensemble}'")
    if quench_rate_K_per_ps <= 0:
        raise ProtocolError(f"quench rate must be positive (K/ps), got {quench_rate_K_per_ps}")
    if t_final_K >= t_melt_K:
        raise ProtocolError(f"final temperature {t_final_K} K must be below the melt {t_melt_K} K")
    common = dict(timestep_fs=timestep_fs, thermo_every=thermo_every, checkpoint_every=checkpoint_every)
    p = {"pressure_GPa": pressure_GPa} if ensemble == "npt" else {}
    thermostat = dict(MELT_QUENCH_THERMOSTAT if thermostat is None else thermostat)
    if ensemble == "npt":
        thermostat.pop("thermostat_per_element", None)
    quench_ps = (t_melt_K - t_final_K) / quench_rate_K_per_ps
    stages = (
        Stage(
            "relax",
            "limit",
            _steps(relax_ps, timestep_fs, "relax_ps"),
            t_start_K=t_melt_K,
            **common,
        ),
        Stage(
            "melt",
            ensemble,
            _steps(hold_ps, timestep_fs, "hold_ps"),
            t_start_K=t_melt_K,
            trajectory_every=trajectory_every,
            **thermostat,
            **p,
            **common,
        ),
        Stage(
            "quench",
            ensemble,
            _steps(quench_ps, timestep_fs, "quench time"),
            t_start_K=t_melt_K,
            t_end_K=t_final_K,
            trajectory_every=trajectory_every,
            **thermostat,
            **p,
            **common,
        ),
        Stage(
            "anneal",
            "langevin" if ensemble == "nvt" else ensemble,
            _steps(anneal_ps, timestep_fs, "anneal_ps"),
            t_start_K=t_final_K,
            trajectory_every=trajectory_every,
            **({"thermostat_damping_fs": ANNEAL_LANGEVIN_DAMPING_FS} if ensemble == "nvt" else {}),
            **p,
            **common,
        ),
    )
    return Protocol(f"melt-quench-{t_melt_K:g}K-{quench_rate_K_per_ps:g}Kps", stages)


#: the melt–quench recipe's defaults, the one place CLI options and study files take them from
MELT_QUENCH_DEFAULTS: dict[str, Any] = {
    k: v.default for k, v in inspect.signature(melt_quench).parameters.items() if v.default is not v.empty
}


def tg_scan(
    t_high_K: float,
    t_low_K: float,
    step_K: float,
    ps_per_step: float,
    pressure_GPa: float = 1e-4,
    timestep_fs: float = 1.0,
    thermo_every: int = 50,
    checkpoint_every: int = 5000,
) -> Protocol:
    """Stepwise NPT cooling for Tg: one stage ``T<temperature>K`` per temperature, from
    ``t_high_K`` down to ``t_low_K`` in steps of ``step_K``, each ``ps_per_step`` long.
    Volume and enthalpy averaged over each stage's second half feed the Tg fit."""
    if t_low_K >= t_high_K or step_K <= 0:
        raise ProtocolError("tg scan needs t_high_K > t_low_K and step_K > 0")
    n = math.floor((t_high_K - t_low_K) / step_K + 1e-9) + 1
    steps = _steps(ps_per_step, timestep_fs, "ps_per_step")
    stages = tuple(
        Stage(
            f"T{t_high_K - i * step_K:g}K",
            "npt",
            steps,
            timestep_fs=timestep_fs,
            t_start_K=t_high_K - i * step_K,
            pressure_GPa=pressure_GPa,
            thermo_every=thermo_every,
            checkpoint_every=checkpoint_every,
        )
        for i in range(n)
    )
    return Protocol(f"tg-scan-{t_high_K:g}-{t_low_K:g}K", stages)


def tg_cooling(
    t_high_K: float,
    t_low_K: float,
    cooling_rate_K_per_ps: float,
    equilibrate_ps: float = 2.0,
    pressure_GPa: float = 1e-4,
    timestep_fs: float = 1.0,
    thermo_every: int = 10,
    checkpoint_every: int = 5000,
) -> Protocol:
    """Continuous NPT cooling for Tg, the way MD studies measure it: ``equilibrate`` (NPT at
    ``t_high_K``), then ``cool`` (NPT, thermostat target ramped linearly to ``t_low_K`` at
    ``cooling_rate_K_per_ps``). Volume and enthalpy averaged in temperature windows of the
    ramp feed the two-line fit (:func:`vitreous.analysis.thermal.tg_from_source`)."""
    if t_low_K >= t_high_K:
        raise ProtocolError(f"Tg cooling needs t_high_K > t_low_K, got {t_high_K} and {t_low_K}")
    if not math.isfinite(cooling_rate_K_per_ps) or cooling_rate_K_per_ps <= 0:
        raise ProtocolError(f"cooling rate must be positive (K/ps), got {cooling_rate_K_per_ps}")
    common = dict(
        timestep_fs=timestep_fs,
        pressure_GPa=pressure_GPa,
        thermo_every=thermo_every,
        checkpoint_every=checkpoint_every,
        **TG_THERMOSTAT,
    )
    cool_ps = (t_high_K - t_low_K) / cooling_rate_K_per_ps
    return Protocol(
        f"tg-cooling-{t_high_K:g}-{t_low_K:g}K-{cooling_rate_K_per_ps:g}Kps",
        (
            Stage(
                "equilibrate",
                "npt",
                _steps(equilibrate_ps, timestep_fs, "equilibrate_ps"),
                t_start_K=t_high_K,
                **common,
            ),
            Stage(
                "cool",
                "npt",
                _steps(cool_ps, timestep_fs, "cooling time"),
                t_start_K=t_high_K,
                t_end_K=t_low_K,
                **common,
            ),
        ),
    )


#: defaults of a continuous Tg cooling (CLI ``vitreous tg-cooling`` and a study's ``[tg_scan]``)
TG_COOLING_DEFAULTS: dict[str, Any] = {
    "t_high_K": 2000.0,
    "t_low_K": 500.0,
    "cooling_rate_K_per_ps": 50.0,
    **{k: v.default for k, v in inspect.signature(tg_cooling).parameters.items() if v.default is not v.empty},
}


def diffusion(
    temperatures_K: list[float] | tuple[float, ...],
    equilibrate_ps: float,
    production_ps: float,
    timestep_fs: float = 1.0,
    trajectory_every: int = 100,
    thermo_every: int = 10,
    checkpoint_every: int = 5000,
    thermostat: dict[str, Any] | None = None,
) -> list[Protocol]:
    """One protocol per temperature: NVT equilibration, then NVT production with frames, both
    with :data:`DIFFUSION_THERMOSTAT` (one Nosé–Hoover thermostat per element) unless
    ``thermostat`` (Stage keyword arguments) is given.

    Returns
    -------
    list of Protocol
        ``diffusion-<T>K``, each with stages ``equilibrate`` and ``production``.
    """
    if not temperatures_K:
        raise ProtocolError("diffusion needs at least one temperature")
    out = []
    for t in temperatures_K:
        common = dict(
            timestep_fs=timestep_fs,
            t_start_K=float(t),
            thermo_every=thermo_every,
            checkpoint_every=checkpoint_every,
            **(DIFFUSION_THERMOSTAT if thermostat is None else thermostat),
        )
        out.append(
            Protocol(
                f"diffusion-{t:g}K",
                (
                    Stage(
                        "equilibrate",
                        "nvt",
                        _steps(equilibrate_ps, timestep_fs, "equilibrate_ps"),
                        **common,
                    ),
                    Stage(
                        "production",
                        "nvt",
                        _steps(production_ps, timestep_fs, "production_ps"),
                        trajectory_every=trajectory_every,
                        **common,
                    ),
                ),
            )
        )
    return out
