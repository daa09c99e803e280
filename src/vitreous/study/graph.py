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


def _md_chain(
    add: Any,
    g: str,
    common: dict[str, Any],
    spec: StudySpec,
    mq_spec: Any,
    tg_spec: Any,
    dif_spec: Any,
    exp: ExperimentSpec | None,
    measured: dict[str, Task],
    seed: int,
    mq_deps: tuple[str, ...],
    extra_deps: tuple[str, ...] = (),
    prefix: str = "",
) -> tuple[Task, list[Task]]:
    """melt_quench → {structure, tg_scan → tg, diffusion@T → dynamics@T} → arrhenius of one
    model and one method; ``prefix`` ("" classical, "mlip-") names the tasks, ``extra_deps``
    (the MLIP model) go to every MD task. Returns the melt–quench task and the tasks the
    report reads."""
    mq = add("melt_quench", prefix + "melt_quench", g, {**common, **asdict(mq_spec), "seed": seed}, mq_deps)
    st = add(
        "structure", prefix + "structure", g, {**asdict(spec.analysis), "experiment": _structure_exp(exp)}, (mq.key,)
    )
    out = [st]
    tg_dep: tuple[str, ...] = ()
    if tg_spec is not None:
        scan = add("tg_scan", prefix + "tg_scan", g, {**common, **asdict(tg_spec), "seed": seed}, (mq.key, *extra_deps))
        tg_task = add(
            "tg", prefix + "tg", g, {"quantities": ["enthalpy", "volume"], "window_K": tg_spec.window_K}, (scan.key,)
        )
        out.append(tg_task)
        tg_dep = (tg_task.key,)
    if dif_spec is None:
        return mq, out
    dyn = []
    for temp in dif_spec.temperatures_K:
        run = add(
            "diffusion",
            f"{prefix}diffusion-{temp:g}K",
            g,
            {
                **common,
                "temperature_K": float(temp),
                "equilibrate_ps": dif_spec.equilibrate_ps,
                "production_ps": dif_spec.production_ps,
                "trajectory_every": dif_spec.trajectory_every,
                "timestep_fs": dif_spec.timestep_fs,
                "seed": seed,
            },
            (mq.key, *extra_deps),
        )
        params = {
            "species": spec.analysis.species,
            "haven_ratio": spec.analysis.haven_ratio,
            "temperature_K": float(temp),
        }
        dyn.append(add("dynamics", f"{prefix}dynamics-{temp:g}K", g, params, (run.key,)))
    if len(dyn) >= 2:
        eis_dep = (measured["exp_eis"].key,) if "exp_eis" in measured else ()
        out.append(
            add(
                "arrhenius",
                prefix + "arrhenius",
                g,
                {
                    "form": spec.analysis.arrhenius_form,
                    "extrapolate_K": list(spec.analysis.extrapolate_K),
                    "experiment": [list(c) for c in exp.conductivity] if exp else [],
                },
                tuple(t.key for t in dyn) + eis_dep + tg_dep,
            )
        )
    return mq, out + dyn


def _active_learning(add: Any, comp: str, spec: StudySpec, density: float | None, glass: Task) -> Task:
    """The active-learning tasks of one composition (group ``mlip-<comp>``): ``cells`` (small
    cells plus frames of the classical melt–quench ``glass``) →
    ``label-<b>`` (initial frames, one task per batch) → ``al-<k>`` (train the committee,
    explore, choose candidates) → ``al-<k>-label-<b>`` → ... → ``model`` (the last
    committee's first member). Returns the model task."""
    m = spec.mlip
    assert m is not None
    group = "mlip-" + group_name(comp, 0, 0).rsplit("-", 2)[0]
    label_opts: dict[str, Any] = {"ranks": m.label_ranks, "threads": m.label_threads}
    if m.reference.startswith("classical:"):  # a classical reference labels with the study's Coulomb
        label_opts["coulomb"] = spec.coulomb
    cells = add(
        "mlip_cells",
        "cells",
        group,
        {
            "composition": comp,
            "density_g_cm3": density,
            "cell_atoms": m.cell_atoms,
            "cell_temperatures_K": list(m.cell_temperatures_K),
            "cell_volume_scales": list(m.cell_volume_scales),
            "initial_frames": m.initial_frames,
            "explore_temperatures_K": list(m.explore_temperatures_K),
            "glass_frames": m.glass_frames,
            "potential": spec.potential,
            "seed": m.seed,
        },
        (glass.key,),
    )
    n_batches = -(-(m.initial_frames + m.glass_frames) // m.label_batch)
    labels = [
        add(
            "mlip_label",
            f"label-{b}",
            group,
            {"reference": m.reference, "source": "initial", "batch": b, "batch_size": m.label_batch, **label_opts},
            (cells.key,),
        )
        for b in range(n_batches)
    ]
    loop = {
        k: getattr(m, k)
        for k in (
            "reference",
            "model",
            "committee",
            "trust_lo_eV_A",
            "trust_hi_eV_A",
            "max_iterations",
            "candidates_per_iteration",
            "stop_fraction",
            "explore_steps",
            "explore_glass",
            "seed",
        )
    } | {"temperatures_K": list(m.explore_temperatures_K)}
    explores: list[Task] = []
    data_deps = [t.key for t in labels]
    for k in range(m.max_iterations):
        prev = (explores[-1].key,) if explores else ()
        al = add("mlip_explore", f"al-{k}", group, {**loop, "iteration": k}, (cells.key, *data_deps, *prev))
        explores.append(al)
        if k == m.max_iterations - 1:
            break
        for b in range(-(-m.candidates_per_iteration // m.label_batch)):
            lab = add(
                "mlip_label",
                f"al-{k}-label-{b}",
                group,
                {
                    "reference": m.reference,
                    "source": "candidates",
                    "batch": b,
                    "batch_size": m.label_batch,
                    **label_opts,
                },
                (al.key,),
            )
            data_deps.append(lab.key)
    return add(
        "mlip_model", "model", group, {"reference": m.reference, "model": m.model}, tuple(t.key for t in explores)
    )


def build_graph(spec: StudySpec) -> list[Task]:
    """Tasks in a topological order: per composition the fits of its measurements
    (exp_xps, exp_dsc, exp_eis) and, with ``[mlip]``, its active-learning loop; per model
    build → melt_quench → {structure, tg_scan → tg, diffusion@T → dynamics@T} → arrhenius,
    and the same chain with the MLIP (labels ``mlip-*``, re-melting the classical glass);
    then one report over everything."""
    tasks: list[Task] = []
    by_key: dict[str, Task] = {}

    def add(kind: str, label: str, group: str, params: dict[str, Any], deps: tuple[str, ...] = ()) -> Task:
        t = Task(_key(kind, params, deps), kind, label, group, params, deps)
        if t.key in by_key:
            raise ValueError(f"two tasks with the same inputs: {by_key[t.key].folder} and {t.folder}")
        by_key[t.key] = t
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
        glasses: dict[tuple[int, int], Task] = {}  # the classical melt–quench of each model
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
                glasses[size, seed], reported = _md_chain(
                    add, g, common, spec, spec.melt_quench, spec.tg_scan, spec.diffusion, exp, measured, seed, (b.key,)
                )
                finals += reported
        if spec.mlip is None:
            continue
        m = spec.mlip
        sizes = [s for s in spec.sizes if not m.sizes or s in m.sizes]
        glass = glasses[min(sizes), spec.seeds[0]]
        model = _active_learning(add, comp, spec, exp.density_g_cm3 if exp else None, glass)
        finals.append(model)
        for size in sizes:
            for seed in spec.seeds:
                _, reported = _md_chain(
                    add,
                    group_name(comp, size, seed),
                    {"mlip": m.model, "threads": spec.threads},
                    spec,
                    m.melt_quench,
                    m.tg_scan,
                    m.diffusion,
                    exp,
                    measured,
                    seed,
                    (glasses[size, seed].key, model.key),
                    (model.key,),
                    prefix="mlip-",
                )
                finals += reported
    add("report", "report", "", {"study": spec.name}, tuple(t.key for t in finals))
    return tasks
