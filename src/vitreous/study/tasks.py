"""What each task kind does: thin calls into the library, files under the task folder."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

from vitreous import operations
from vitreous.report.figures import save_plot, save_plots
from vitreous.study.graph import Task
from vitreous.study.store import RunStore

__all__ = ["execute_task", "is_current"]

#: Dependencies whose failure does not stop a task (the report shows what is missing).
#: ``mlip_explore`` stops the loop when a labelling failed; ``mlip_model`` takes the last
#: committee that trained.
SOFT = {"report", "mlip_explore", "mlip_model"}


def _md(params: dict[str, Any], atoms: Any, protocol: Any, folder: Path, deps: dict[str, Any] | None = None):
    """The task's MD run, on the study's engine (one factory for CLI and study): the MLIP of
    the ``mlip_model`` dependency when the task is on the MLIP leg, else the classical set."""
    from vitreous.engines.factory import classical_md, mlip_md
    from vitreous.engines.lammps import LammpsSettings
    from vitreous.potentials import Coulomb, load_forcefield

    if params.get("mlip"):
        from vitreous.mlip.models import load_model

        model = load_model((deps or {})["mlip_model"]["outputs"]["folder"])
        return mlip_md(atoms, model, protocol, folder, params["seed"], threads=params.get("threads") or None)
    settings = LammpsSettings(threads=params.get("threads") or None, coulomb=Coulomb(params["coulomb"]))
    engine = params.get("engine", "lammps")
    return classical_md(atoms, load_forcefield(params["potential"]), protocol, folder, params["seed"], settings, engine)


def _thermostat(params: dict[str, Any]) -> dict[str, Any] | None:
    """The recipe's thermostat for the classical leg (None: its default, one per element
    against BMP's heat); one chain on all atoms on the MLIP leg, whose potential has no heat
    source (``protocols.ENERGY_CONSERVING_THERMOSTAT``)."""
    from vitreous.protocols import ENERGY_CONSERVING_THERMOSTAT

    return dict(ENERGY_CONSERVING_THERMOSTAT) if params.get("mlip") else None


def _progress(label: str):
    """Progress: a rich bar in a terminal, else a line every ~10 % of the run."""
    import sys

    if sys.stdout.isatty():
        return True
    state = {"next": 0.0}

    def cb(info: dict[str, Any]) -> None:
        frac = info["step"] / info["total_steps"]
        if frac >= state["next"]:
            print(
                f"    {label}: {info['stage']} step {info['step']}/{info['total_steps']} "
                f"T {info['temperature_K']:.0f} K",
                flush=True,
            )
            state["next"] = frac + 0.1

    return cb


def _build(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.build import random_glass
    from vitreous.composition import counts, resolve, with_v4_fraction
    from vitreous.io import write_structure

    p = task.params
    comp, preset = resolve(p["composition"])
    v4 = p.get("v4_fraction")
    v4_source = None
    if v4 == "xps":
        v4, v4_source = deps["exp_xps"]["result"]["V4_fraction"], "XPS fit"
    elif v4 is not None:
        v4_source = "study file"
    if v4 is not None:
        comp = with_v4_fraction(comp, float(v4))
    density = p.get("density_g_cm3") or preset.density_g_cm3
    model = counts(comp, p["n_atoms"])
    atoms = random_glass(model, density, seed=p["seed"])
    path = folder / "start.extxyz"
    write_structure(atoms, path)
    extra = {
        "seed": p["seed"],
        "composition_name": p["composition"],
        "v4_fraction_source": v4_source,
        "density_source": "study file" if p.get("density_g_cm3") else "preset",
    }
    return model.summary(density) | extra, {"structure": str(path)}


def _held(summary: dict) -> list[dict]:
    """The engine's per-stage temperature check (target, measured mean, offset), compact."""
    keys = (
        "name",
        "thermostat",
        "thermostat_chain",
        "thermostat_damping_fs",
        "target_K",
        "mean_T_K",
        "sem_T_K",
        "std_T_K",
        "offset_percent",
        "mean_P_GPa",
        "held",
        "by_element",
        "held_by_element",
    )
    return [{k: st[k] for k in keys if k in st} for st in summary.get("stages", [])]


def _melt_quench(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.io import read_structure
    from vitreous.protocols import melt_quench

    p = task.params
    # the MLIP leg re-melts the classical glass of the same model; the classical leg starts from the build
    start = deps["melt_quench"]["outputs"]["final"] if p.get("mlip") else deps["build"]["outputs"]["structure"]
    atoms = read_structure(start)
    proto = melt_quench(
        p["t_melt_K"],
        p["hold_ps"],
        p["quench_rate_K_per_ps"],
        p["t_final_K"],
        p["anneal_ps"],
        p["ensemble"],
        timestep_fs=p["timestep_fs"],
        relax_ps=p["relax_ps"],
        trajectory_every=p["trajectory_every"],
        thermostat=_thermostat(p),
    )
    res = _md(p, atoms, proto, folder, deps).run(progress=_progress(f"{task.group} {task.label}"))
    return res.summary["final"] | {"wall_time_s": res.summary["wall_time_s"], "stages": _held(res.summary)}, {
        "trajectory": str(res.trajectory),
        "final": str(res.final_structure),
    }


def _structure(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.experiment import read_experiment

    p = task.params
    exp = p.get("experiment") or {}
    data = (
        read_experiment(exp["structure_file"], exp["quantity"], exp.get("x_unit"))
        if exp.get("structure_file")
        else None
    )
    res = operations.structure(
        deps["melt_quench"]["outputs"]["trajectory"],
        p["structure_frames"],
        {pair: float(v) for pair, v in p.get("cutoffs_A", [])},
        k_max_inv_A=p["k_max_inv_A"],
        experiment=data,
        radiation=exp.get("radiation", "xray"),
    )
    out = res.to_dict()
    path = folder / "structure.json"
    path.write_text(json.dumps(out))
    save_plots(res, folder)
    c = out["coordination"]
    summary = {
        "n_V": c.get("V-O", {}).get("mean"),
        "n_V_cutoff_A": c.get("V-O", {}).get("cutoff_A"),
        "vo_units": c.get("V-O", {}).get("distribution"),
        "vo_units_std": c.get("V-O", {}).get("distribution_std"),
        "bond_lengths_A": out["bond_lengths_A"],
        "oxygen": {k: out["oxygen"][k] for k in ("BO", "NBO", "free", "tricluster")},
        "bridges": out["oxygen"].get("bridges"),
        "qn": out["qn"],
        "rw_percent": out.get("rw_percent"),
        "n_frames": out["metadata"]["n_frames"],
    }
    return summary, {"json": str(path), "folder": str(folder)}


def _tg_scan(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.io import read_structure
    from vitreous.protocols import tg_cooling

    p = task.params
    atoms = read_structure(deps["melt_quench"]["outputs"]["final"])
    proto = tg_cooling(
        p["t_high_K"],
        p["t_low_K"],
        p["cooling_rate_K_per_ps"],
        p["equilibrate_ps"],
        p["pressure_GPa"],
        timestep_fs=p["timestep_fs"],
    )
    res = _md(p, atoms, proto, folder, deps).run(progress=_progress(f"{task.group} {task.label}"))
    return {"wall_time_s": res.summary["wall_time_s"], "stages": _held(res.summary)}, {
        "trajectory": str(res.trajectory)
    }


def _tg(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    p = task.params
    fits = operations.tg(deps["tg_scan"]["outputs"]["trajectory"], p["quantities"], p["window_K"])
    head = fits[p["quantities"][0]]
    for q, fit in fits.items():
        save_plot(fit, folder / f"tg_{q}.png")
    (folder / "tg.json").write_text(json.dumps({q: fit.to_dict() for q, fit in fits.items()}))
    return {
        "Tg_K": head.Tg_K,
        "Tg_interval_K": list(head.interval_K),
        "Tg_quantity": p["quantities"][0],
        "cooling_rate_K_per_ps": head.cooling_rate_K_per_ps,
        "by_quantity": {q: {"Tg_K": f.Tg_K, "Tg_interval_K": list(f.interval_K)} for q, f in fits.items()},
    }, {"json": str(folder / "tg.json"), "png": str(folder / f"tg_{p['quantities'][0]}.png")}


def _diffusion(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.io import read_structure
    from vitreous.protocols import diffusion

    p = task.params
    atoms = read_structure(deps["melt_quench"]["outputs"]["final"])
    proto = diffusion(
        [p["temperature_K"]],
        p["equilibrate_ps"],
        p["production_ps"],
        timestep_fs=p["timestep_fs"],
        trajectory_every=p["trajectory_every"],
        thermostat=_thermostat(p),
    )[0]
    res = _md(p, atoms, proto, folder, deps).run(progress=_progress(f"{task.group} {task.label}"))
    return {"wall_time_s": res.summary["wall_time_s"], "stages": _held(res.summary)}, {
        "trajectory": str(res.trajectory)
    }


def _dynamics(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    p = task.params
    res, caught = operations.dynamics(
        deps["diffusion"]["outputs"]["trajectory"], p["species"], "production", haven_ratio=p["haven_ratio"]
    )
    out = res.to_dict()
    out["warnings"] = caught
    (folder / "dynamics.json").write_text(json.dumps(out))
    save_plot(res, folder / "msd.png")
    c = out["conductivity"]
    return {
        "temperature_K": c["temperature_K"],
        "target_temperature_K": p["temperature_K"],
        "D_cm2_s": out["diffusion"]["D_cm2_s"],
        "D_err_cm2_s": out["diffusion"]["D_err_cm2_s"],
        "loglog_slope": out["diffusion"]["loglog_slope"],
        "sigma_S_cm": c["nernst_einstein_S_cm"],
        "sigma_err_S_cm": c["nernst_einstein_err_S_cm"],
        "collective_S_cm": c["collective_S_cm"],
        "trapped_fraction": out["ions"]["trapped_fraction"],
        "mobile_fraction": out["ions"]["mobile_fraction"],
        **_class_msd(out["ions"]),
        "percolates": out["channels"]["static"]["percolates"],
        "warnings": out["warnings"],
    }, {"json": str(folder / "dynamics.json"), "msd_png": str(folder / "msd.png")}


def _class_msd(ions: dict[str, Any]) -> dict[str, Any]:
    """Mean MSD (Å²) of the trapped and the mobile ions at the classifying lag (the study's
    Fig. 4 reads these: trapped ~2 Å², mobile ~85 Å² at 1200 K)."""
    import numpy as np

    msd = np.asarray(ions["per_ion_msd_A2"])
    mobile = np.asarray(ions["mobile_mask"], dtype=bool)
    return {
        "class_lag_ps": ions["lag_ps"],
        "msd_trapped_A2": float(msd[~mobile].mean()) if (~mobile).any() else None,
        "msd_mobile_A2": float(msd[mobile].mean()) if mobile.any() else None,
    }


def _arrhenius(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    p = task.params
    points = [json.loads(Path(d["outputs"]["json"]).read_text()) for d in deps["dynamics*"]]
    exp_pts = [(float(x[0]), float(x[1]), str(x[2]) if len(x) > 2 else "experiment") for x in p.get("experiment", [])]
    if "exp_eis" in deps:  # impedance fits of this composition
        exp_pts += [
            (float(t), float(s), "impedance fit (vitreous exp eis)") for t, s, _ in deps["exp_eis"]["result"]["points"]
        ]
    tg_K = deps["tg"]["result"]["Tg_K"] if "tg" in deps else None
    fit, out = operations.arrhenius(points, p["form"], p["extrapolate_K"], exp_pts, tg_K)
    save_plot(fit, folder / "arrhenius.png", [(t, v) for t, v, _ in exp_pts])
    (folder / "arrhenius.json").write_text(json.dumps(out))
    return {"Ea_eV": fit.Ea_eV, "Ea_err_eV": fit.Ea_err_eV, "sigma_at": out["sigma_at"], "form": fit.form}, {
        "json": str(folder / "arrhenius.json")
    }


def _exp_eis(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.experiment.eis import fit_eis_series, read_spectrum

    p = task.params
    temps = p["temperatures_K"] or [None] * len(p["files"])
    spectra = [read_spectrum(f, t) for f, t in zip(p["files"], temps, strict=True)]
    series = fit_eis_series(spectra, p["thickness_mm"], p["area_cm2"], p["circuit"])
    out = series.to_dict()
    (folder / "eis.json").write_text(json.dumps(out))
    outputs = {"json": str(folder / "eis.json")}
    for i, fit in enumerate(series.fits):
        outputs[f"nyquist_{i}"] = str(
            save_plot(fit, folder / f"nyquist_{Path(fit.spectrum.source).stem}.png", "nyquist", figsize=(6, 5))
        )
    arr = out["arrhenius"]
    return {
        "points": [list(x) for x in series.points()],
        "Ea_eV": arr and arr["Ea_eV"],
        "Ea_err_eV": arr and arr["Ea_err_eV"],
        "circuit": p["circuit"],
    }, outputs


def _exp_xps(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.experiment.xps import fit_xps, read_xps

    p = task.params
    e, y = read_xps(p["file"])
    fit = fit_xps(e, y, tuple(p["components"]), shift_eV=p["shift_eV"], source=p["file"])
    (folder / "xps.json").write_text(json.dumps(fit.to_dict()))
    png = save_plot(fit, folder / "xps.png", figsize=(6, 4.5))
    return {"V4_fraction": fit.V4_fraction, "V4_fraction_err": fit.V4_fraction_err}, {
        "json": str(folder / "xps.json"),
        "png": str(png),
    }


def _exp_dsc(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.experiment.dsc import fit_dsc, read_dsc

    p = task.params
    t, hf = read_dsc(p["file"], p["temperature_unit"])
    fit = fit_dsc(t, hf, p["endo"], source=p["file"])
    (folder / "dsc.json").write_text(json.dumps(fit.to_dict()))
    png = save_plot(fit, folder / "dsc.png")
    keys = ("Tg_onset_K", "Tg_midpoint_K", "Tg_endset_K")
    return {k: fit.to_dict()[k] for k in keys}, {"json": str(folder / "dsc.json"), "png": str(png)}


def _mlip_cells(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.io import read_structure
    from vitreous.mlip.cells import small_cells
    from vitreous.mlip.dataset import select_diverse, write_dataset

    p = task.params
    runs = len(p["cell_temperatures_K"]) * len(p["cell_volume_scales"])
    per_run = max(5, -(-2 * p["initial_frames"] // runs))  # a pool twice the frames chosen
    pool = small_cells(
        p["composition"],
        p["cell_atoms"],
        p["density_g_cm3"],
        p["cell_temperatures_K"],
        per_run,
        p["potential"],
        seed=p["seed"],
        workdir=folder / "md",
        volume_scales=p["cell_volume_scales"],
    )
    chosen = select_diverse(pool, min(p["initial_frames"], len(pool)), seed=p["seed"])
    chosen += _glass_frames(deps["melt_quench"]["outputs"]["trajectory"], p["glass_frames"])
    write_dataset(chosen, folder / "initial.extxyz")
    # one exploration start per exploration temperature: the last frame sampled nearest to it
    starts = []
    for t in p["explore_temperatures_K"]:
        nearest = min({a.info["temperature_K"] for a in pool}, key=lambda x: abs(x - t))
        starts.append([a for a in pool if a.info["temperature_K"] == nearest][-1])
    write_dataset(starts, folder / "starts.extxyz")
    glass = read_structure(deps["melt_quench"]["outputs"]["final"])
    write_dataset([glass], folder / "glass.extxyz")
    return {
        "n_pool": len(pool),
        "n_initial": len(chosen),
        "sampled_by": f"classical:{p['potential']} (geometries only; labels come from the reference)",
    }, {
        "frames": str(folder / "initial.extxyz"),
        "starts": str(folder / "starts.extxyz"),
        "glass": str(folder / "glass.extxyz"),
    }


def _glass_frames(trajectory: str, n: int) -> list[Any]:
    """``n`` frames of a classical melt–quench, evenly spaced from its melt to its final
    glass (the structures an MLIP melt–quench of that model starts from and passes), with
    the instantaneous temperature rounded to 100 K."""
    import numpy as np

    from vitreous.mlip.dataset import trajectory_frames

    if n <= 0:
        return []
    frames = trajectory_frames([trajectory])
    out = []
    for f in np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int)):
        a = frames[int(f)]
        t = a.info["temperature_K"]
        a.info = {"source": f"classical-glass/{a.info['source']}", "temperature_K": round(t, -2) if t == t else t}
        out.append(a)
    return out


def _mlip_label(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.mlip.dataset import label_frames, read_dataset, write_dataset

    p = task.params
    if p["source"] == "initial":
        source = deps["mlip_cells"]["outputs"]["frames"]
    else:
        source = deps["mlip_explore"]["outputs"].get("candidates")
    frames = read_dataset(source, labelled=False) if source and Path(source).is_file() else []
    lo = p["batch"] * p["batch_size"]
    batch = frames[lo : lo + p["batch_size"]]
    path = folder / "labelled.extxyz"
    if batch:
        opts: dict[str, Any] = {"threads": p["threads"]}
        if p["reference"].startswith("cp2k:"):
            opts["ranks"] = p["ranks"]
        if "coulomb" in p:
            from vitreous.potentials import Coulomb

            opts["coulomb"] = Coulomb(p["coulomb"])
        write_dataset(label_frames(batch, p["reference"], folder / "work", **opts), path)
    return {"n_frames": len(batch), "reference": p["reference"]}, ({"frames": str(path)} if batch else {})


def _mlip_config(p: dict[str, Any]):
    from vitreous.mlip.active import ActiveLearningConfig

    keys = set(ActiveLearningConfig.__dataclass_fields__) - {"label_options"}
    return ActiveLearningConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in p.items() if k in keys})


def _mlip_explore(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.errors import AnalysisError
    from vitreous.mlip.active import check_initial, explore_iteration
    from vitreous.mlip.dataset import read_dataset, write_dataset

    p = task.params
    prev = deps.get("mlip_explore")
    if prev is not None and prev["status"] == "complete" and prev["result"].get("stop"):
        return {"ran": False, "stop": True, "reason": f"the loop stopped at {prev['label']}"}, {}
    bad = [r for r in deps.get("mlip_label*", []) + deps.get("mlip_cells*", []) if r["status"] != "complete"]
    if bad or (prev is not None and prev["status"] != "complete"):
        first = (bad or [prev])[0]
        initial = first["kind"] == "mlip_cells" or (first.get("inputs") or {}).get("source") == "initial"
        if p["iteration"] == 0 or initial:
            raise AnalysisError(f"the initial data are not complete: {first['label']} {first['status']}")
        reason = f"{first['label']} {first['status']}: {(first.get('error') or '').splitlines()[0]}"
        return {"ran": False, "stop": True, "reason": reason}, {}
    data = []
    for r in deps.get("mlip_label*", []):
        if r["outputs"].get("frames"):
            data += read_dataset(r["outputs"]["frames"])
    config = _mlip_config(p)
    check_initial(data, config)
    starts = read_dataset(deps["mlip_cells"]["outputs"]["starts"], labelled=False)
    glass = None
    if p.get("explore_glass"):
        glass = read_dataset(deps["mlip_cells"]["outputs"]["glass"], labelled=False)[0]
    record, chosen = explore_iteration(
        data, starts, config, folder, p["iteration"], progress=_say_line(task), glass=glass
    )
    outputs = {"model": record.pop("model")}
    if chosen:
        write_dataset(chosen, folder / "candidates.extxyz")
        outputs["candidates"] = str(folder / "candidates.extxyz")
    return {"ran": True} | record, outputs


def _say_line(task: Task):
    def say(text: str) -> None:
        print(f"    {task.group} {task.label}: {text}", flush=True)

    return say


def _mlip_model(task: Task, folder: Path, deps: dict[str, dict]) -> tuple[dict, dict]:
    from vitreous.errors import AnalysisError
    from vitreous.mlip.models import load_model

    explores = deps.get("mlip_explore*", [])
    history = [r["result"] | {"task": r["label"]} for r in explores if r["status"] == "complete" and r["result"]["ran"]]
    if not history:
        raise AnalysisError("no active-learning iteration trained a committee", hint="see the al-* tasks' errors")
    last = next(r for r in reversed(explores) if r["status"] == "complete" and r["result"]["ran"])
    stopped = next(
        (r["result"]["reason"] for r in explores if r["status"] == "complete" and r["result"].get("reason")), None
    )
    model = load_model(last["outputs"]["model"])
    card = model.card
    summary = {
        "model": card["model"],
        "reference": card["reference"],
        "reference_kind": card["reference_kind"],
        "n_frames": sum(card["n_frames"].values()) if isinstance(card["n_frames"], dict) else card["n_frames"],
        "n_frames_split": card["n_frames"],
        "test": {k: v for k, v in card["metrics"]["test"].items() if k != "by_temperature_K"},
        "iterations": len(history),
        "stopped_by": stopped
        or ("converged (accurate fraction)" if history[-1].get("converged") else "iteration budget"),
        "active_learning": [
            {
                k: h.get(k)
                for k in (
                    "iteration",
                    "n_frames",
                    "n_candidates",
                    "n_chosen",
                    "candidate_fraction",
                    "accurate_fraction",
                    "beyond_trust_fraction",
                    "by_target_temperature_K",
                    "converged",
                    "forces_rmse_eV_A",
                    "energy_rmse_meV_atom",
                    "n_explored",
                    "exploration_failures",
                    "sigma_F_histogram",
                    "wall_time_s",
                )
            }
            for h in history
        ],
    }
    (folder / "model.json").write_text(json.dumps(summary, indent=2))
    return summary, {"folder": last["outputs"]["model"], "json": str(folder / "model.json")}


def _report(task: Task, folder: Path, deps: dict[str, dict], out_dir: Path, store: RunStore) -> tuple[dict, dict]:
    from vitreous.report.html import write_report

    paths = write_report(out_dir, store.rows())
    return {"html": str(paths["html"])}, {k: str(v) for k, v in paths.items()}


_KINDS = {
    "mlip_cells": _mlip_cells,
    "mlip_label": _mlip_label,
    "mlip_explore": _mlip_explore,
    "mlip_model": _mlip_model,
    "build": _build,
    "melt_quench": _melt_quench,
    "structure": _structure,
    "tg_scan": _tg_scan,
    "tg": _tg,
    "diffusion": _diffusion,
    "dynamics": _dynamics,
    "arrhenius": _arrhenius,
    "exp_eis": _exp_eis,
    "exp_xps": _exp_xps,
    "exp_dsc": _exp_dsc,
}


#: every task kind (``report`` included)
TASK_KINDS = (*_KINDS, "report")


def is_current(row: dict[str, Any] | None, dep_rows: list[dict[str, Any] | None]) -> bool:
    """Complete, and no dependency finished after it started (as ``make`` does with file
    times). A dependency runs again when it had failed or been skipped; what used its old
    result (an iteration that stopped for want of labels, the model after it, the MLIP MD
    with that model) then runs again too."""
    if row is None or row["status"] != "complete":
        return False
    started = row.get("started") or 0.0
    return not any(r is not None and (r.get("finished") or 0.0) > started for r in dep_rows)


def _task_folder(folder: Path, key: str, redo: bool = False) -> Path:
    """The task's folder, marked with its key. A folder left by a task of the same label but
    other inputs (an edited study) is moved aside to ``<folder>.<its key>``, and a finished
    task that runs again (``redo``: a dependency ran after it) to
    ``<folder>.<key>.<unix time>``: never mixed with the new run (its engines would refuse
    to resume a different run) nor deleted."""
    marker = folder / ".task-key"
    if marker.is_file() and marker.read_text().strip() != key:
        old = marker.read_text().strip()
        folder.rename(folder.with_name(f"{folder.name}.{old}"))
    elif redo and folder.is_dir():
        folder.rename(folder.with_name(f"{folder.name}.{key}.{int(time.time())}"))
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")
    return folder


def execute_task(task: Task, out_dir: str | Path, store_path: str | Path, *_deps: Any) -> dict[str, Any]:
    """Run one task unless it is complete; record everything in the store.

    Returns the task's store row (status, result, ...). Never raises for a task failure:
    the error is recorded and dependents are skipped (the report still runs).
    """
    from vitreous.provenance import versions

    out_dir = Path(out_dir)
    store = RunStore(store_path)
    row = store.get(task.key)
    dep_rows = [store.get(k) for k in task.deps]
    if is_current(row, dep_rows):
        return row
    if task.kind not in SOFT:
        bad = [r for r in dep_rows if r is None or r["status"] != "complete"]
        if bad:
            reason = "; ".join(f"{r['label'] if r else '?'} {r['status'] if r else 'missing'}" for r in bad)
            store.skip(task.key, f"dependency not complete: {reason}")
            return store.get(task.key)
    if task.kind == "report":  # rewritten whole every time
        folder = out_dir / task.folder
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = _task_folder(out_dir / task.folder, task.key, redo=row is not None and row["status"] == "complete")
    deps: dict[str, Any] = {}
    for r in dep_rows:
        if r is None:
            continue
        r["outputs"] = {k: str(out_dir / v) for k, v in (r.get("outputs") or {}).items()}
        deps.setdefault(r["kind"] + "*", []).append(r)  # every dependency of a kind, in order
        deps[r["kind"]] = r
    store.start(task.key, versions())
    t0 = time.perf_counter()
    try:
        if task.kind == "report":
            result, outputs = _report(task, folder, deps, out_dir, store)
        else:
            result, outputs = _KINDS[task.kind](task, folder, deps)
        result = dict(result) | {"task_wall_s": time.perf_counter() - t0}
        # outputs are stored relative to the study folder, so the folder can be moved
        outputs = {k: str(Path(v).resolve().relative_to(out_dir.resolve())) for k, v in outputs.items()}
        store.complete(task.key, result, outputs)
    except Exception as exc:  # recorded, not raised: the rest of the graph goes on
        store.fail(task.key, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    return store.get(task.key)
