"""Expanding a study into a task graph with content-addressed task keys."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vitreous.study.spec import ExperimentSpec, StudySpec

__all__ = ["Task", "build_graph", "group_name"]


@dataclass(frozen=True)
class Task:
    """One unit of work."""

    key: str
    kind: str
    label: str
    group: str
    params: dict[str, Any] = field(hash=False)
    deps: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """Output folder relative to the study output (deterministic from the inputs)."""
        return f"{self.group}/{self.label}" if self.group else self.label


def group_name(composition: str, size: int, seed: int) -> str:
    """Folder name of one model: ``NVP28-405-s1``."""
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in composition)
    return f"{safe}-{size}-s{seed}"


def _key(kind: str, params: dict[str, Any], deps: tuple[str, ...]) -> str:
    from vitreous import __version__

    blob = json.dumps({"kind": kind, "params": params, "deps": deps, "code": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _structure_exp(exp: ExperimentSpec | None) -> dict[str, Any] | None:
    """The measured-structure part of an experiment table (what the structure task reads)."""
    if exp is None:
        return None
    keep = ("structure_file", "quantity", "radiation", "x_unit", "conductivity")
    return {k: v for k, v in asdict(exp).items() if k in keep}


def _experiment_tasks(add: Any, comp: str, exp: ExperimentSpec) -> dict[str, Task]:
    """One fit task per measurement of a composition (group ``experiment-<comp>``); the
    task keys include each file's SHA-256, so an edited file is fitted again."""
    group = "experiment-" + group_name(comp, 0, 0).rsplit("-", 2)[0]
    out: dict[str, Task] = {}
    if exp.xps is not None:
        out["exp_xps"] = add(
            "exp_xps", "xps", group, {"composition": comp, **asdict(exp.xps), "sha256": _sha256(exp.xps.file)}
        )
    if exp.dsc is not None:
        out["exp_dsc"] = add(
            "exp_dsc", "dsc", group, {"composition": comp, **asdict(exp.dsc), "sha256": _sha256(exp.dsc.file)}
        )
    if exp.eis is not None:
        out["exp_eis"] = add(
            "exp_eis",
            "eis",
            group,
            {"composition": comp, **asdict(exp.eis), "sha256": [_sha256(f) for f in exp.eis.files]},
        )
    return out


def build_graph(spec: StudySpec) -> list[Task]:
    """Tasks in a topological order: per composition the fits of its measurements
    (exp_xps, exp_dsc, exp_eis); per model build → melt_quench → {structure, tg_scan → tg,
    diffusion@T → dynamics@T} → arrhenius; then one report over everything."""
    tasks: list[Task] = []

    def add(kind: str, label: str, group: str, params: dict[str, Any], deps: tuple[str, ...] = ()) -> Task:
        t = Task(_key(kind, params, deps), kind, label, group, params, deps)
        tasks.append(t)
        return t

    common = {"potential": spec.potential, "coulomb": spec.coulomb, "threads": spec.threads}
    if spec.engine != "lammps":  # keeps the keys of LAMMPS studies as they were
        common["engine"] = spec.engine
    finals = []
    for comp in spec.compositions:
        exp = spec.experiments.get(comp)
        measured = _experiment_tasks(add, comp, exp) if exp else {}
        finals += measured.values()
        for size in spec.sizes:
            for seed in spec.seeds:
                g = group_name(comp, size, seed)
                build_params: dict[str, Any] = {"composition": comp, "n_atoms": size, "seed": seed}
                build_deps: tuple[str, ...] = ()
                if exp is not None and exp.v4_fraction is not None:
                    build_params["v4_fraction"] = exp.v4_fraction
                    build_deps = (measured["exp_xps"].key,) if exp.v4_fraction == "xps" else ()
                if exp is not None and exp.density_g_cm3 is not None:
                    build_params["density_g_cm3"] = exp.density_g_cm3
                b = add("build", "build", g, build_params, build_deps)
                mq = add(
                    "melt_quench", "melt_quench", g, {**common, **asdict(spec.melt_quench), "seed": seed}, (b.key,)
                )
                st = add(
                    "structure", "structure", g, {**asdict(spec.analysis), "experiment": _structure_exp(exp)}, (mq.key,)
                )
                group_tasks = [st]
                tg_dep: tuple[str, ...] = ()
                if spec.tg_scan is not None:
                    scan = add("tg_scan", "tg_scan", g, {**common, **asdict(spec.tg_scan), "seed": seed}, (mq.key,))
                    tg_task = add(
                        "tg",
                        "tg",
                        g,
                        {"quantities": ["enthalpy", "volume"], "window_K": spec.tg_scan.window_K},
                        (scan.key,),
                    )
                    group_tasks.append(tg_task)
                    tg_dep = (tg_task.key,)
                dyn = []
                if spec.diffusion is not None:
                    d = spec.diffusion
                    for temp in d.temperatures_K:
                        run = add(
                            "diffusion",
                            f"diffusion-{temp:g}K",
                            g,
                            {
                                **common,
                                "temperature_K": float(temp),
                                "equilibrate_ps": d.equilibrate_ps,
                                "production_ps": d.production_ps,
                                "trajectory_every": d.trajectory_every,
                                "timestep_fs": d.timestep_fs,
                                "seed": seed,
                            },
                            (mq.key,),
                        )
                        dyn.append(
                            add(
                                "dynamics",
                                f"dynamics-{temp:g}K",
                                g,
                                {
                                    "species": spec.analysis.species,
                                    "haven_ratio": spec.analysis.haven_ratio,
                                    "temperature_K": float(temp),
                                },
                                (run.key,),
                            )
                        )
                    if len(dyn) >= 2:
                        eis_dep = (measured["exp_eis"].key,) if "exp_eis" in measured else ()
                        group_tasks.append(
                            add(
                                "arrhenius",
                                "arrhenius",
                                g,
                                {
                                    "form": spec.analysis.arrhenius_form,
                                    "extrapolate_K": list(spec.analysis.extrapolate_K),
                                    "experiment": [list(c) for c in exp.conductivity] if exp else [],
                                },
                                tuple(t.key for t in dyn) + eis_dep + tg_dep,
                            )
                        )
                    group_tasks += dyn
                finals += group_tasks
    add("report", "report", "", {"study": spec.name}, tuple(t.key for t in finals))
    return tasks
