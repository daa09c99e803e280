"""The study file: a TOML description of compositions × sizes × seeds × protocols × analyses.

Every key is checked: unknown keys, wrong types and values outside the allowed ones give a
:class:`~vitreous.errors.StudyError` naming the key and what is allowed.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from vitreous.errors import StudyError
from vitreous.mlip.active import ActiveLearningConfig as _AL
from vitreous.protocols import MELT_QUENCH_DEFAULTS as _MQ
from vitreous.protocols import TG_COOLING_DEFAULTS as _TG

__all__ = ["StudySpec", "builtin_study", "load_study"]

Executor = Literal["serial", "dask"]


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise StudyError(f"unknown key(s) {unknown} in [{where}]", hint=f"allowed: {', '.join(sorted(allowed))}")


def _num(table: dict[str, Any], key: str, where: str, default: float | None = None, positive: bool = True) -> float:
    if key not in table:
        if default is None:
            raise StudyError(f"missing key '{key}' in [{where}]")
        return default
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise StudyError(f"[{where}] {key} must be a number, got {v!r}")
    if positive and v <= 0:
        raise StudyError(f"[{where}] {key} must be positive, got {v}")
    return float(v)


@dataclass(frozen=True)
class MeltQuenchSpec:
    """Melt–quench schedule (see :func:`vitreous.protocols.melt_quench`)."""

    t_melt_K: float = _MQ["t_melt_K"]
    hold_ps: float = _MQ["hold_ps"]
    quench_rate_K_per_ps: float = _MQ["quench_rate_K_per_ps"]
    t_final_K: float = _MQ["t_final_K"]
    anneal_ps: float = _MQ["anneal_ps"]
    relax_ps: float = _MQ["relax_ps"]
    ensemble: str = _MQ["ensemble"]
    timestep_fs: float = _MQ["timestep_fs"]
    trajectory_every: int = _MQ["trajectory_every"]


@dataclass(frozen=True)
class TgScanSpec:
    """Continuous NPT cooling for Tg (see :func:`vitreous.protocols.tg_cooling`): volume and
    enthalpy averaged in ``window_K`` windows of the ramp; the headline Tg is the enthalpy's
    (the quantity DSC measures), the volume's is reported beside it."""

    t_high_K: float = _TG["t_high_K"]
    t_low_K: float = _TG["t_low_K"]
    cooling_rate_K_per_ps: float = _TG["cooling_rate_K_per_ps"]
    equilibrate_ps: float = _TG["equilibrate_ps"]
    window_K: float = 25.0
    pressure_GPa: float = _TG["pressure_GPa"]
    timestep_fs: float = 1.0


@dataclass(frozen=True)
class DiffusionSpec:
    """Diffusion runs (see :func:`vitreous.protocols.diffusion`)."""

    temperatures_K: tuple[float, ...] = (1000.0, 1200.0, 1400.0)
    equilibrate_ps: float = 2.0
    production_ps: float = 10.0
    trajectory_every: int = 50
    timestep_fs: float = 1.0


@dataclass(frozen=True)
class AnalysisSpec:
    """Analysis settings."""

    structure_frames: str = "-20:"
    k_max_inv_A: float = 20.0
    cutoffs_A: tuple[tuple[str, float], ...] = ()
    species: str = "Na"
    haven_ratio: float = 1.0
    extrapolate_K: tuple[float, ...] = (473.0,)
    arrhenius_form: str = "sigma_T"


@dataclass(frozen=True)
class EISSpec:
    """Impedance spectra of one sample (``[experiment.<comp>.eis]``)."""

    files: tuple[str, ...]
    thickness_mm: float
    area_cm2: float
    temperatures_K: tuple[float, ...] = ()
    circuit: str = "R0-p(R1,CPE1)-CPE2"


@dataclass(frozen=True)
class XPSSpec:
    """A V 2p XPS region (``[experiment.<comp>.xps]``)."""

    file: str
    components: tuple[str, ...] = ("V5", "V4")
    shift_eV: float = 0.0


@dataclass(frozen=True)
class DSCSpec:
    """A DSC heating scan (``[experiment.<comp>.dsc]``)."""

    file: str
    temperature_unit: str = "C"
    endo: str = "down"


@dataclass(frozen=True)
class ExperimentSpec:
    """Measured data for one composition. ``v4_fraction`` (a number or ``"xps"``) and
    ``density_g_cm3`` replace the preset's values in the model that is built."""

    structure_file: str | None = None
    quantity: str = "S"
    radiation: str = "xray"
    x_unit: str | None = None
    conductivity: tuple[tuple[float, float, str], ...] = ()
    eis: EISSpec | None = None
    xps: XPSSpec | None = None
    dsc: DSCSpec | None = None
    v4_fraction: float | str | None = None
    density_g_cm3: float | None = None


@dataclass(frozen=True)
class MLIPSpec:
    """The MLIP leg of a study (``[mlip]``): an active-learning loop per composition, then the
    same MD and analyses as the classical leg with the final model.

    The loop (:mod:`vitreous.mlip.active`) starts from ``initial_frames`` diverse frames of
    small cells (``cell_atoms`` atoms) sampled by the study's classical potential at
    ``cell_temperatures_K`` and ``cell_volume_scales`` (the classical set only proposes
    geometries), labelled by ``reference`` in batches of ``label_batch`` frames (one task per
    batch). MLIP MD runs at ``sizes`` (each one of the study's sizes: the MLIP melt–quench
    re-melts that size's classical glass). ``melt_quench``, ``tg_scan`` and ``diffusion``
    are the classical leg's tables with this table's overrides (``[mlip.diffusion]`` ...).
    With ``explore_glass`` every iteration also explores that classical glass at the highest
    exploration temperature (the start of the MLIP melt–quench, at its full size).
    """

    reference: str = "teacher:chgnet"
    model: str = "pod"
    # the loop's own defaults have one home: vitreous.mlip.active.ActiveLearningConfig
    committee: int = _AL.committee
    trust_lo_eV_A: float = _AL.trust_lo_eV_A
    trust_hi_eV_A: float = _AL.trust_hi_eV_A
    max_iterations: int = _AL.max_iterations
    candidates_per_iteration: int = _AL.candidates_per_iteration
    stop_fraction: float = _AL.stop_fraction
    explore_temperatures_K: tuple[float, ...] = (800.0, 1400.0, 2000.0)
    explore_steps: int = _AL.explore_steps
    explore_glass: bool = True
    initial_frames: int = 60
    glass_frames: int = 4
    cell_atoms: int = 80
    cell_temperatures_K: tuple[float, ...] = (600.0, 1000.0, 1400.0, 1800.0)
    cell_volume_scales: tuple[float, ...] = (0.95, 1.0, 1.05)
    label_batch: int = 20
    label_ranks: int = 1
    label_threads: int = 1
    sizes: tuple[int, ...] = ()
    seed: int = 0
    melt_quench: MeltQuenchSpec = field(default_factory=MeltQuenchSpec)
    tg_scan: TgScanSpec | None = None
    diffusion: DiffusionSpec | None = None


@dataclass(frozen=True)
class StudySpec:
    """A validated study."""

    name: str
    compositions: tuple[str, ...]
    sizes: tuple[int, ...]
    seeds: tuple[int, ...] = (1,)
    potential: str = "bmp"
    coulomb: str = "pppm"
    engine: str = "lammps"
    threads: int = 0
    executor: Executor = "serial"
    workers: int = 2
    scheduler_address: str | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    note: str = ""
    melt_quench: MeltQuenchSpec = field(default_factory=MeltQuenchSpec)
    tg_scan: TgScanSpec | None = field(default_factory=TgScanSpec)
    diffusion: DiffusionSpec | None = field(default_factory=DiffusionSpec)
    analysis: AnalysisSpec = field(default_factory=AnalysisSpec)
    experiments: dict[str, ExperimentSpec] = field(default_factory=dict)
    mlip: MLIPSpec | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (for provenance and hashing)."""
        d = asdict(self)
        d.pop("source", None)
        return d

    def output_dir(self, override: str | Path | None = None) -> Path:
        """Where results go: the override, the file's ``output``, or ./vitreous-out/<name>."""
        if override is not None:
            return Path(override)
        if self.output:
            return Path(self.output)
        return Path("vitreous-out") / self.name


_TOP = {
    "name",
    "compositions",
    "sizes",
    "seeds",
    "potential",
    "coulomb",
    "engine",
    "threads",
    "executor",
    "workers",
    "scheduler_address",
    "cluster",
    "output",
    "note",
    "melt_quench",
    "tg_scan",
    "diffusion",
    "analysis",
    "experiment",
    "mlip",
}


def _sub(
    raw: dict[str, Any], key: str, cls: type, where: str, base: Any = None, exclude: set[str] = frozenset()
) -> Any:
    """Table ``raw[key]`` as ``cls``: each key checked against the field's type; fields not
    given keep ``base``'s value (default: ``cls()``'s)."""
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise StudyError(f"[{where}] must be a table")
    names = {f for f in cls.__dataclass_fields__} - set(exclude)
    _check_keys(table, names | {"enabled"}, where)
    kwargs: dict[str, Any] = {}
    defaults = cls() if base is None else base
    for name in names:
        if name not in table:
            continue
        v = table[name]
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            if not isinstance(v, list) or not v:
                raise StudyError(f"[{where}] {name} must be a non-empty list")
            kwargs[name] = tuple(v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise StudyError(f"[{where}] {name} must be true or false, got {v!r}")
            kwargs[name] = v
        elif isinstance(default, float):
            kwargs[name] = _num(table, name, where)
        elif isinstance(default, int) and not isinstance(default, bool):
            low = 0 if name == "seed" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                what = "a non-negative" if low == 0 else "a positive"
                raise StudyError(f"[{where}] {name} must be {what} integer, got {v!r}")
            kwargs[name] = v
        else:
            kwargs[name] = v
    if base is not None:
        kwargs = {f: getattr(base, f) for f in cls.__dataclass_fields__} | kwargs
    return cls(**kwargs)


def _check_resources(resources: Any) -> None:
    """``[cluster.resources]``: Dask worker resources a task kind needs, e.g.
    ``mlip_explore = { GPU = 1 }`` (the workers declare theirs through
    ``worker_extra_args = ["--resources", "GPU=1"]``)."""
    from vitreous.study.tasks import TASK_KINDS

    if not isinstance(resources, dict):
        raise StudyError("[cluster] resources must be a table of task kind = { RESOURCE = amount }")
    for kind, need in resources.items():
        if kind not in TASK_KINDS:
            raise StudyError(f"[cluster.resources] unknown task kind '{kind}'", hint=f"kinds: {', '.join(TASK_KINDS)}")
        if not isinstance(need, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in need.values()
        ):
            raise StudyError(f"[cluster.resources] {kind} must map resource names to positive amounts")


def _check_reference(reference: Any, where: str) -> str:
    """A labeller name: ``teacher:<model>``, ``cp2k:<preset>`` or ``classical:<set>``."""
    from vitreous.mlip.dataset import TEACHERS
    from vitreous.potentials import available_forcefields

    kind, _, name = reference.partition(":") if isinstance(reference, str) else ("", "", "")
    if kind == "teacher" and name in TEACHERS:
        return reference
    if kind == "classical" and name in available_forcefields():
        return reference
    if kind == "cp2k" and name:
        from vitreous.engines.cp2k import load_dft_settings
        from vitreous.errors import VitreousError

        try:
            load_dft_settings(name)
        except VitreousError as exc:
            raise StudyError(f"[{where}] reference {reference!r}: {exc.message}", hint=exc.hint) from None
        return reference
    raise StudyError(
        f"[{where}] reference must name a labeller, got {reference!r}",
        hint=f"teacher:<{'|'.join(TEACHERS)}>, cp2k:<DFT preset> or classical:<{'|'.join(available_forcefields())}>",
    )


def _mlip(raw: dict[str, Any], sizes: list[int], mq: MeltQuenchSpec, tg: Any, dif: Any) -> MLIPSpec:
    """Validate ``[mlip]`` key by key (its MD tables override the classical leg's)."""
    from vitreous.mlip.models import MODEL_KINDS

    table = raw["mlip"]
    if not isinstance(table, dict):
        raise StudyError("[mlip] must be a table")
    subs = ("melt_quench", "tg_scan", "diffusion")
    flat = {k: v for k, v in table.items() if k not in subs}
    spec = _sub({"mlip": flat}, "mlip", MLIPSpec, "mlip", exclude=set(subs))
    if flat.get("enabled", True) is False:
        raise StudyError("[mlip] enabled = false: remove the table to run without the MLIP leg")
    _check_reference(spec.reference, "mlip")
    if spec.model not in MODEL_KINDS:
        raise StudyError(f"[mlip] model must be one of {', '.join(MODEL_KINDS)}, got {spec.model!r}")
    if spec.committee < 2:
        raise StudyError(f"[mlip] committee must be at least 2 (a deviation needs two models), got {spec.committee}")
    if not 0 <= spec.trust_lo_eV_A < spec.trust_hi_eV_A:
        raise StudyError(f"[mlip] trust window [{spec.trust_lo_eV_A}, {spec.trust_hi_eV_A}) eV/Å is empty")
    if not 0 < spec.stop_fraction < 1:
        raise StudyError(f"[mlip] stop_fraction must lie between 0 and 1, got {spec.stop_fraction}")
    for key in ("explore_temperatures_K", "cell_temperatures_K", "cell_volume_scales"):
        if not all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in getattr(spec, key)):
            raise StudyError(f"[mlip] {key} must be positive numbers")
    if spec.cell_atoms < 20:
        raise StudyError(f"[mlip] cell_atoms must be at least 20, got {spec.cell_atoms}")
    if spec.initial_frames < 10:
        raise StudyError(
            f"[mlip] initial_frames must be at least 10 (train/validation/test), got {spec.initial_frames}"
        )
    bad = sorted(set(spec.sizes) - set(sizes))
    if bad:
        raise StudyError(
            f"[mlip] sizes {bad} are not among the study's sizes {sizes}",
            hint="the MLIP leg re-melts the classical glass of each size",
        )
    mlip_mq = _sub(table, "melt_quench", MeltQuenchSpec, "mlip.melt_quench", base=mq)
    if mlip_mq.t_final_K >= mlip_mq.t_melt_K:
        raise StudyError("[mlip.melt_quench] t_final_K must be below t_melt_K")
    mlip_tg = None
    if tg is not None and table.get("tg_scan", {}).get("enabled", True) is not False:
        mlip_tg = _sub(table, "tg_scan", TgScanSpec, "mlip.tg_scan", base=tg)
        if mlip_tg.t_low_K >= mlip_tg.t_high_K or mlip_tg.window_K * 8 > mlip_tg.t_high_K - mlip_tg.t_low_K:
            raise StudyError("[mlip.tg_scan] needs t_low_K below t_high_K and at least 8 windows between them")
    elif tg is None and table.get("tg_scan", {}).get("enabled", False):
        raise StudyError("[mlip.tg_scan] needs the study's [tg_scan]")
    mlip_dif = None
    if dif is not None and table.get("diffusion", {}).get("enabled", True) is not False:
        mlip_dif = _sub(table, "diffusion", DiffusionSpec, "mlip.diffusion", base=dif)
        if not all(isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in mlip_dif.temperatures_K):
            raise StudyError("[mlip.diffusion] temperatures_K must be positive numbers (K)")
    return MLIPSpec(
        **{k: getattr(spec, k) for k in MLIPSpec.__dataclass_fields__ if k not in subs},
        melt_quench=mlip_mq,
        tg_scan=mlip_tg,
        diffusion=mlip_dif,
    )


def parse_study(raw: dict[str, Any], source: str = "") -> StudySpec:
    """Validate a parsed TOML table into a :class:`StudySpec`."""
    from vitreous.composition import resolve
    from vitreous.errors import VitreousError
    from vitreous.potentials import available_forcefields

    _check_keys(raw, _TOP, "study")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise StudyError("'name' must be a non-empty string without '/'", hint='e.g. name = "nvp28-quick"')
    comps = raw.get("compositions")
    if not isinstance(comps, list) or not comps or not all(isinstance(c, str) for c in comps):
        raise StudyError("'compositions' must be a list of presets or composition strings", hint='e.g. ["NVP28"]')
    for c in comps:
        try:
            comp, preset = resolve(c)
        except VitreousError as exc:
            raise StudyError(f"compositions: {exc.message}", hint=exc.hint) from None
        if preset is None:
            raise StudyError(f"composition '{c}' has no density", hint="use a preset (NVP0, NVP10, NVP28)")
    sizes = raw.get("sizes")
    if (
        not isinstance(sizes, list)
        or not sizes
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 50 for s in sizes)
    ):
        raise StudyError("'sizes' must be a list of atom counts >= 50", hint="e.g. sizes = [405]")
    seeds = raw.get("seeds", [1])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        raise StudyError("'seeds' must be a list of non-negative integers")
    from vitreous.analysis.arrhenius import FORMS as ARRHENIUS_FORMS
    from vitreous.engines.factory import ENGINES
    from vitreous.potentials.classical import COULOMB_METHODS
    from vitreous.protocols import MELT_QUENCH_ENSEMBLES

    potential = raw.get("potential", "bmp")
    if potential not in available_forcefields():
        raise StudyError(f"unknown potential '{potential}'", hint=f"allowed: {', '.join(available_forcefields())}")
    coulomb = raw.get("coulomb", "pppm")
    if coulomb not in COULOMB_METHODS:
        raise StudyError(f"unknown coulomb '{coulomb}'", hint=f"allowed: {', '.join(COULOMB_METHODS)}")
    engine = raw.get("engine", "lammps")
    if engine not in ENGINES:
        raise StudyError(f"unknown engine '{engine}'", hint=f"allowed: {', '.join(ENGINES)}")
    executor = raw.get("executor", "serial")
    if executor not in get_args(Executor):
        raise StudyError(f"unknown executor '{executor}'", hint=f"allowed: {', '.join(get_args(Executor))}")
    threads = raw.get("threads", 0)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise StudyError("'threads' must be a non-negative integer (0: all cores)")
    workers = raw.get("workers", 2)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers <= 0:
        raise StudyError("'workers' must be a positive integer")
    cluster = raw.get("cluster", {})
    if cluster:
        _check_keys(
            cluster,
            {
                "kind",
                "cores",
                "memory",
                "walltime",
                "queue",
                "account",
                "jobs",
                "processes",
                "job_extra_directives",
                "local_directory",
                "worker_extra_args",
                "resources",
            },
            "cluster",
        )
        if cluster.get("kind") not in ("slurm", "pbs"):
            raise StudyError("[cluster] kind must be slurm or pbs")
        _check_resources(cluster.get("resources", {}))
    mq = _sub(raw, "melt_quench", MeltQuenchSpec, "melt_quench")
    if mq.ensemble not in MELT_QUENCH_ENSEMBLES:
        raise StudyError(f"[melt_quench] ensemble must be nvt or npt, got '{mq.ensemble}'")
    if mq.t_final_K >= mq.t_melt_K:
        raise StudyError("[melt_quench] t_final_K must be below t_melt_K")
    stepwise = {"step_K", "ps_per_step"} & set(raw.get("tg_scan", {}))
    if stepwise:
        raise StudyError(
            f"[tg_scan] {', '.join(sorted(stepwise))}: the stepwise scan was replaced by continuous NPT cooling",
            hint="give cooling_rate_K_per_ps (K/ps) and window_K instead",
        )
    tg = None if raw.get("tg_scan", {}).get("enabled", True) is False else _sub(raw, "tg_scan", TgScanSpec, "tg_scan")
    if tg is not None and tg.t_low_K >= tg.t_high_K:
        raise StudyError("[tg_scan] t_low_K must be below t_high_K")
    if tg is not None and tg.window_K * 8 > tg.t_high_K - tg.t_low_K:
        raise StudyError("[tg_scan] window_K leaves fewer than 8 windows between t_low_K and t_high_K")
    dif = (
        None
        if raw.get("diffusion", {}).get("enabled", True) is False
        else _sub(raw, "diffusion", DiffusionSpec, "diffusion")
    )
    if dif is not None and not all(isinstance(t, int | float) and t > 0 for t in dif.temperatures_K):
        raise StudyError("[diffusion] temperatures_K must be positive numbers (K)")
    an_raw = dict(raw.get("analysis", {}))
    cut = an_raw.pop("cutoffs_A", {})
    if not isinstance(cut, dict):
        raise StudyError('[analysis] cutoffs_A must be a table like {"V-O" = 2.3}')
    raw_an = {"analysis": an_raw}
    an = _sub(raw_an, "analysis", AnalysisSpec, "analysis")
    if an.arrhenius_form not in ARRHENIUS_FORMS:
        raise StudyError(f"[analysis] arrhenius_form must be sigma_T, sigma or D, got '{an.arrhenius_form}'")
    an = AnalysisSpec(**{**asdict(an), "cutoffs_A": tuple(sorted((k, float(v)) for k, v in cut.items()))})
    mlip = _mlip(raw, sizes, mq, tg, dif) if "mlip" in raw else None
    experiments = {}
    base = Path(source).parent if source else Path(".")
    for comp, table in raw.get("experiment", {}).items():
        if comp not in comps:
            raise StudyError(f"[experiment.{comp}] is not one of the compositions", hint=f"compositions: {comps}")
        experiments[comp] = _experiment(comp, table, base)
    return StudySpec(
        name=name.strip(),
        compositions=tuple(comps),
        sizes=tuple(sizes),
        seeds=tuple(seeds),
        potential=potential,
        coulomb=coulomb,
        engine=engine,
        threads=threads,
        executor=executor,
        workers=workers,
        scheduler_address=raw.get("scheduler_address"),
        cluster=dict(cluster),
        output=raw.get("output"),
        note=str(raw.get("note", "")),
        melt_quench=mq,
        tg_scan=tg,
        diffusion=dif,
        analysis=an,
        experiments=experiments,
        mlip=mlip,
        source=source,
    )


def _file(value: Any, where: str, base: Path) -> str:
    if not isinstance(value, str) or not value:
        raise StudyError(f"[{where}] file must be a path string")
    path = Path(value) if Path(value).is_absolute() else base / value
    if not path.is_file():
        raise StudyError(f"[{where}] file {path} does not exist")
    return str(path.resolve())


def _experiment(comp: str, table: dict[str, Any], base: Path) -> ExperimentSpec:
    from vitreous.analysis.scattering import RADIATIONS

    where = f"experiment.{comp}"
    if not isinstance(table, dict):
        raise StudyError(f"[{where}] must be a table")
    _check_keys(table, {"structure", "conductivity", "eis", "xps", "dsc", "v4_fraction", "density_g_cm3"}, where)
    st = table.get("structure", {})
    _check_keys(st, {"file", "quantity", "radiation", "x_unit"}, f"{where}.structure")
    if st and st.get("quantity", "S") not in ("S", "G", "T"):
        raise StudyError(f"[{where}.structure] quantity must be S, G or T")
    if st and st.get("radiation", "xray") not in RADIATIONS:
        raise StudyError(f"[{where}.structure] radiation must be xray or neutron")
    file = _file(st["file"], f"{where}.structure", base) if st.get("file") is not None else None
    cond = []
    for item in table.get("conductivity", []):
        _check_keys(item, {"temperature_K", "sigma_S_cm", "label"}, f"{where}.conductivity")
        cond.append(
            (
                _num(item, "temperature_K", "conductivity"),
                _num(item, "sigma_S_cm", "conductivity"),
                str(item.get("label", "experiment")),
            )
        )
    eis = None
    if "eis" in table:
        t = table["eis"]
        w = f"{where}.eis"
        _check_keys(t, {"files", "thickness_mm", "area_cm2", "temperatures_K", "circuit"}, w)
        files = t.get("files")
        if not isinstance(files, list) or not files:
            raise StudyError(f"[{w}] files must be a non-empty list of paths")
        temps = t.get("temperatures_K", [])
        if not isinstance(temps, list) or (temps and len(temps) != len(files)):
            raise StudyError(f"[{w}] temperatures_K must list one temperature (K) per file")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in temps):
            raise StudyError(f"[{w}] temperatures_K must be positive numbers (K)")
        circuit = t.get("circuit", EISSpec.circuit)
        if not isinstance(circuit, str) or not circuit:
            raise StudyError(f"[{w}] circuit must be a circuit string such as R0-p(R1,CPE1)-CPE2")
        eis = EISSpec(
            tuple(_file(f, w, base) for f in files),
            _num(t, "thickness_mm", w),
            _num(t, "area_cm2", w),
            tuple(float(x) for x in temps),
            circuit,
        )
    xps = None
    if "xps" in table:
        t = table["xps"]
        w = f"{where}.xps"
        _check_keys(t, {"file", "components", "shift_eV"}, w)
        comps_x = t.get("components", ["V5", "V4"])
        if not isinstance(comps_x, list) or not {"V5", "V4"} <= set(comps_x) or not set(comps_x) <= {"V5", "V4", "V3"}:
            raise StudyError(f'[{w}] components must be ["V5", "V4"] or ["V5", "V4", "V3"]')
        xps = XPSSpec(_file(t.get("file"), w, base), tuple(comps_x), _num(t, "shift_eV", w, 0.0, positive=False))
    dsc = None
    if "dsc" in table:
        t = table["dsc"]
        w = f"{where}.dsc"
        _check_keys(t, {"file", "temperature_unit", "endo"}, w)
        if t.get("temperature_unit", "C") not in ("C", "K"):
            raise StudyError(f"[{w}] temperature_unit must be C or K")
        if t.get("endo", "down") not in ("up", "down"):
            raise StudyError(f"[{w}] endo must be up or down")
        dsc = DSCSpec(_file(t.get("file"), w, base), t.get("temperature_unit", "C"), t.get("endo", "down"))
    v4 = table.get("v4_fraction")
    if v4 == "xps":
        if xps is None:
            raise StudyError(f'[{where}] v4_fraction = "xps" needs an [{where}.xps] table')
    elif v4 is not None and (isinstance(v4, bool) or not isinstance(v4, int | float) or not 0 <= v4 <= 1):
        raise StudyError(f'[{where}] v4_fraction must be a number within 0-1 or "xps", got {v4!r}')
    dens = _num(table, "density_g_cm3", where) if "density_g_cm3" in table else None
    return ExperimentSpec(
        file,
        st.get("quantity", "S"),
        st.get("radiation", "xray"),
        st.get("x_unit"),
        tuple(cond),
        eis,
        xps,
        dsc,
        v4,
        dens,
    )


def load_study(path: str | Path) -> StudySpec:
    """Load and validate a study TOML file."""
    from vitreous.errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read study {path}: no such file", hint="check the path")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path} is not valid TOML: {exc}") from None
    return parse_study(raw, str(path.resolve()))


def builtin_study() -> StudySpec:
    """The built-in NVP28 quick study (``data/nvp28-quick.toml``, same as examples/)."""
    text = resources.files("vitreous.data").joinpath("nvp28-quick.toml").read_text()
    return parse_study(tomllib.loads(text), "builtin:nvp28-quick")
