"""Active learning: grow a labelled set until a committee of models agrees on what MLIP MD
explores (in the spirit of DP-GEN's concurrent learning, Zhang et al., Comput. Phys.
Commun. 253, 107206 (2020)).

Each iteration: train a committee (same data, different split seeds) → explore with MLIP MD
of the first member at each temperature → for every explored frame, the committee's force
deviation σ_F = max over atoms of |std over members of the force vector| → frames with
σ_F in the trust window [lo, hi) are candidates (below: nothing to learn; above: too far
from the data to label usefully) → label up to N diverse candidates with the reference → add
them and go on. Stops when fewer than ``stop_fraction`` of the explored frames lie outside
the accurate region (σ_F < lo; DP-GEN's "accurate ratio" criterion), or when the
iteration budget is spent.

Every iteration lives in ``it_<k>/`` and ends with ``iteration.json``; a finished iteration
is never redone, and its labelled candidates (``labelled.extxyz``) are reused, so a run
killed at any point resumes without relabelling.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import AnalysisError, VitreousError
from vitreous.mlip.dataset import label_frames, read_dataset, select_diverse, write_dataset

__all__ = [
    "ActiveLearningConfig",
    "check_initial",
    "committee_deviation",
    "explore_iteration",
    "run_active_learning",
    "train_committee",
]


@dataclass
class ActiveLearningConfig:
    """Settings of the loop.

    Attributes
    ----------
    reference : str
        Labeller of the candidates (``cp2k:<preset>``, ``teacher:<model>``, ``classical:<set>``).
    model : str
        Model kind of the committee (``pod``, ``gap``, ``mace``).
    committee : int
        Members (different split seeds).
    trust_lo_eV_A, trust_hi_eV_A : float
        Trust window of σ_F (eV/Å). The lower bound sits near the models' own force error
        (a deviation below it says nothing new); measured on the test system: after two
        iterations 37 of 40 explored frames fell below 0.2 eV/Å, against 6 of 40 at first.
    temperatures_K : tuple of float
        Exploration temperatures (one NVT run each per iteration).
    explore_steps, explore_every : int
        Steps of each exploration run and the spacing of its frames.
    timestep_fs : float
        Exploration time step.
    candidates_per_iteration : int
        Most frames labelled per iteration.
    explore_quench : bool
        Also explore a quench: one NVT run per iteration ramping from the highest to the
        lowest exploration temperature (melt–quench protocols visit such states).
    max_iterations : int
        Iteration budget.
    stop_fraction : float
        Stop when fewer than this fraction of explored frames fall outside the accurate
        region (σ_F < ``trust_lo_eV_A``): candidates and beyond-trust frames together, so a
        model whose explorations all run beyond the trust window does not count as converged.
    seed : int
        Seed of splits, MD and selection.
    label_options : dict
        Passed to :func:`~vitreous.mlip.dataset.label_frames` (e.g. ``coulomb``).
    """

    reference: str
    model: str = "pod"
    committee: int = 3
    trust_lo_eV_A: float = 0.2
    trust_hi_eV_A: float = 1.0
    temperatures_K: tuple[float, ...] = (800.0, 1400.0)
    explore_steps: int = 1000
    explore_every: int = 50
    timestep_fs: float = 1.0
    explore_quench: bool = True
    candidates_per_iteration: int = 20
    max_iterations: int = 4
    stop_fraction: float = 0.05
    seed: int = 0
    label_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.committee < 2:
            raise AnalysisError(f"a committee needs at least 2 members, got {self.committee}")
        if not 0 <= self.trust_lo_eV_A < self.trust_hi_eV_A:
            raise AnalysisError(f"trust window [{self.trust_lo_eV_A}, {self.trust_hi_eV_A}) is empty")
        if self.max_iterations < 1 or self.candidates_per_iteration < 1 or not self.temperatures_K:
            raise AnalysisError("need at least one iteration, one candidate per iteration and one temperature")


def committee_deviation(models: Sequence[Any], frames: Sequence[Atoms]) -> np.ndarray:
    """σ_F per frame (eV/Å): max over atoms of the norm of the standard deviation, over the
    committee, of the predicted force vector."""
    from vitreous.mlip.evaluate import predict

    preds = [predict(m, frames) for m in models]
    sigma = np.empty(len(frames))
    for f in range(len(frames)):  # frames may differ in size (small cells and the glass)
        forces = np.array([p[f].arrays["forces"] for p in preds])  # (M, N, 3)
        sigma[f] = np.sqrt((forces.std(axis=0) ** 2).sum(axis=-1)).max()
    return sigma


def _explore(
    model: Any, starts: Sequence[Atoms], cfg: ActiveLearningConfig, folder: Path, glass: Atoms | None = None
) -> tuple[list[Atoms], list[str], list[int]]:
    """Exploration runs; returns their frames, the failures, and the index (into the frames)
    of the last frame each failed run wrote before it stopped."""
    from vitreous.engines.factory import mlip_md
    from vitreous.io.trajectory import open_trajectory
    from vitreous.protocols import Protocol, Stage

    frames: list[Atoms] = []
    failures: list[str] = []
    runs = [(f"{t:g}K", float(t), float(t), starts[k % len(starts)]) for k, t in enumerate(cfg.temperatures_K)]
    if cfg.explore_quench and len(set(cfg.temperatures_K)) > 1:
        hot = int(np.argmax(cfg.temperatures_K))
        runs.append(("quench", max(cfg.temperatures_K), min(cfg.temperatures_K), starts[hot % len(starts)]))
    if glass is not None:  # the model the MLIP MD will start from, at the hottest temperature
        runs.append(("glass", max(cfg.temperatures_K), max(cfg.temperatures_K), glass))
    stop_frames: list[int] = []
    for k, (name, t, t_end, start) in enumerate(runs):
        stage = Stage(
            "explore",
            "nvt",
            cfg.explore_steps,
            timestep_fs=cfg.timestep_fs,
            t_start_K=t,
            t_end_K=t_end,
            trajectory_every=cfg.explore_every,
            thermo_every=cfg.explore_every,
            checkpoint_every=cfg.explore_every,  # frames up to a failure are kept: the best candidates
        )
        run_dir = folder / f"explore_{name}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = mlip_md(start, model, Protocol("explore", (stage,)), run_dir, seed=cfg.seed + k).run(
                    progress=False
                )
            traj_path = result.trajectory
        except VitreousError as exc:  # a run that left the model's range: keep what it wrote
            failures.append(f"{name}: {exc.message}")
            traj_path = run_dir / "trajectory.h5"
            failed = True
        else:
            failed = False
        n_before = len(frames)
        if traj_path.is_file():
            n_total = max(1, cfg.explore_steps // cfg.explore_every)
            with open_trajectory(traj_path) as traj:
                for f in range(len(traj)):
                    a = traj[f]
                    a.wrap()
                    # a label for stratified selection and the per-temperature fractions: the
                    # thermostat's target at that frame (as small_cells labels its frames), not
                    # a measured temperature; the runs' measured T are in their summaries
                    target = t + (t_end - t) * min(1.0, (f + 1) / n_total)
                    a.info = {"source": f"{run_dir.name}#{f}", "temperature_K": round(target, -2)}
                    frames.append(a)
        if failed and len(frames) > n_before:
            stop_frames.append(len(frames) - 1)
    return frames, failures, stop_frames


def _train_member(data: Sequence[Atoms], mdir: Path, kind: str, seed: int) -> Path:
    from vitreous.mlip.train import train_model

    train_model(data, mdir, kind, seed=seed)
    return mdir


def train_committee(data: Sequence[Atoms], folder: Path, config: ActiveLearningConfig, iteration: int) -> list[Any]:
    """Train (or reload, where ``model_<m>/card.json`` exists) the committee of one iteration
    in ``folder/model_<m>``; member m's split seed is ``seed + 101·iteration + m``. Members
    train side by side in child processes, one per core (``VITREOUS_THREADS`` cores where
    set: a Dask worker's share)."""
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    from vitreous.mlip.models import load_model

    todo = []
    for m in range(config.committee):
        mdir = Path(folder) / f"model_{m}"
        if (mdir / "card.json").is_file():
            continue
        if mdir.exists():  # a training killed half-way: start it again
            shutil.rmtree(mdir)
        todo.append((mdir, config.seed + 101 * iteration + m))
    import multiprocessing

    cores = int(os.environ.get("VITREOUS_THREADS") or os.cpu_count() or 1)
    if len(todo) > 1 and cores > 1 and not multiprocessing.current_process().daemon:  # a Dask worker may be one
        ctx = multiprocessing.get_context("spawn")  # LAMMPS and torch do not survive fork
        with ProcessPoolExecutor(min(cores, len(todo)), mp_context=ctx) as pool:
            for f in [pool.submit(_train_member, list(data), d, config.model, s) for d, s in todo]:
                f.result()
    else:
        for d, s in todo:
            _train_member(data, d, config.model, s)
    return [load_model(Path(folder) / f"model_{m}") for m in range(config.committee)]


def explore_iteration(
    data: Sequence[Atoms],
    starts: Sequence[Atoms],
    config: ActiveLearningConfig,
    folder: str | os.PathLike,
    iteration: int,
    progress: Callable[[str], None] | None = None,
    glass: Atoms | None = None,
) -> tuple[dict[str, Any], list[Atoms]]:
    """One iteration up to the choice of candidates: train the committee on ``data``,
    explore, measure σ_F, choose up to ``candidates_per_iteration`` diverse candidates.

    ``glass``, when given, is explored too, at the highest exploration temperature: the
    structure the production MLIP MD starts from (e.g. a 405-atom classical glass, where
    small cells see ~10× fewer atom-steps). The last frame of every exploration run that
    stopped (close contact, lost atoms) is labelled too, whatever its σ_F.

    Returns
    -------
    record : dict
        Frames trained on, committee test errors, explored frames, candidate / accurate /
        beyond-trust fractions, σ_F histogram, exploration failures, ``stop`` (candidate
        fraction plus beyond-trust fraction below ``stop_fraction`` with no failed exploration:
        ``converged``; or the last iteration of
        the budget) and wall time.
    chosen : list of ase.Atoms
        The candidates to label (empty when the loop stops here).
    """
    say = progress or (lambda _m: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    say(f"iteration {iteration}: training a committee of {config.committee} on {len(data)} frames")
    models = train_committee(data, folder, config, iteration)
    say(f"iteration {iteration}: exploring at {', '.join(f'{t:g}' for t in config.temperatures_K)} K")
    explored, failures, stop_frames = _explore(models[0], starts, config, folder, glass)
    sigma = committee_deviation(models, explored) if explored else np.zeros(0)
    lo, hi = config.trust_lo_eV_A, config.trust_hi_eV_A
    is_candidate = (sigma >= lo) & (sigma < hi)
    fraction = float(is_candidate.mean()) if len(sigma) else 1.0
    candidates = [explored[k] for k in np.flatnonzero(is_candidate)]
    # the last frame before a run stopped shows where the model fails (often a close contact):
    # labelled whatever its σ_F, it teaches the model the repulsion it lacks
    stops = [explored[k] for k in stop_frames if not is_candidate[k]]
    accurate = float((sigma < lo).mean()) if len(sigma) else 0.0
    converged = 1.0 - accurate < config.stop_fraction and not failures
    stop = converged or iteration >= config.max_iterations - 1
    chosen: list[Atoms] = []
    if (candidates or stops) and not stop:
        n = min(config.candidates_per_iteration - len(stops), len(candidates))
        chosen = stops + (select_diverse(candidates, n, config.seed + iteration) if n > 0 else [])
    test = models[0].card["metrics"]["test"]
    edges = np.append(np.linspace(0.0, 2.0 * hi, 21), np.inf)  # the last bin holds everything beyond 2·hi
    temps = np.array([a.info["temperature_K"] for a in explored])
    by_t = {
        f"{t:g}": {
            "n": int((temps == t).sum()),
            "candidate_fraction": float(is_candidate[temps == t].mean()),
            "beyond_trust_fraction": float((sigma[temps == t] >= hi).mean()),
        }
        for t in sorted(set(temps.tolist()))
    }
    record = {
        "iteration": iteration,
        "n_frames": len(data),
        "n_candidates": len(candidates),
        "n_stop_frames": len(stops),
        "n_chosen": len(chosen),
        "forces_rmse_eV_A": test["forces_rmse_eV_A"],
        "energy_rmse_meV_atom": test["energy_rmse_meV_atom"],
        "n_explored": len(explored),
        "candidate_fraction": fraction,
        "accurate_fraction": accurate,
        "beyond_trust_fraction": float((sigma >= hi).mean()) if len(sigma) else 0.0,
        "by_target_temperature_K": by_t,
        "converged": bool(converged),
        "sigma_F_histogram": {
            "edges_eV_A": [float(x) if np.isfinite(x) else None for x in edges],
            "counts": np.histogram(sigma, edges)[0].tolist(),
        },
        "exploration_failures": failures,
        "reference": config.reference,
        "model": str(folder / "model_0"),
        "wall_time_s": time.perf_counter() - t0,
        "stop": bool(stop),
    }
    say(
        f"iteration {iteration}: candidate fraction {fraction:.2f}, forces RMSE {test['forces_rmse_eV_A']:.3f} "
        f"eV/Å, {len(failures)} failed explorations"
    )
    return record, chosen


def check_initial(labelled: Sequence[Atoms], config: ActiveLearningConfig) -> None:
    """Refuse an initial set labelled by another reference than the loop's."""
    refs = {a.info.get("reference") for a in labelled}
    if refs != {config.reference}:
        raise AnalysisError(
            f"the initial set is labelled by {sorted(map(str, refs))}, the loop labels with {config.reference}",
            hint="start from frames labelled by the same reference",
        )


def run_active_learning(
    labelled: Sequence[Atoms],
    starts: Sequence[Atoms],
    config: ActiveLearningConfig,
    out_dir: str | os.PathLike,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) the loop; returns one record per iteration (also in
    ``out_dir/history.json``): labelled frames, committee test errors, explored frames,
    candidate fraction, σ_F histogram, exploration failures, wall time.

    Parameters
    ----------
    labelled : sequence of ase.Atoms
        The initial labelled set (one reference, the same as ``config.reference``).
    starts : sequence of ase.Atoms
        Starting structures of the exploration runs (cycled over temperatures).
    """
    say = progress or (lambda _m: None)
    if not labelled or not starts:
        raise AnalysisError("active learning needs an initial labelled set and starting structures")
    check_initial(labelled, config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps({k: v for k, v in asdict(config).items() if k != "label_options"}))
    settings_path = out / "settings.json"
    if settings_path.is_file() and json.loads(settings_path.read_text()) != settings:
        raise AnalysisError(f"{out} holds a loop with other settings", hint="choose another folder")
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")
    data = list(labelled)
    history: list[dict[str, Any]] = []
    for it in range(config.max_iterations):
        folder = out / f"it_{it}"
        record_path = folder / "iteration.json"
        if record_path.is_file():  # finished: reuse its labels, never relabel
            record = json.loads(record_path.read_text())
            if (folder / "labelled.extxyz").is_file():
                data += read_dataset(folder / "labelled.extxyz")
            history.append(record)
            if record["stop"]:
                break
            continue
        t0 = time.perf_counter()
        record, chosen = explore_iteration(data, starts, config, folder, it, say)
        new: list[Atoms] = []
        label_error = None
        if chosen:
            say(
                f"iteration {it}: labelling {len(chosen)} of {record['n_candidates']} candidates "
                f"with {config.reference}"
            )
            try:
                new = label_frames(chosen, config.reference, folder / "label", **config.label_options)
                write_dataset(new, folder / "labelled.extxyz")
            except Exception as exc:  # a labeller failure ends the loop cleanly, recorded
                label_error = f"{type(exc).__name__}: {exc}"
                new = []
                record["stop"] = True
        record |= {"n_labelled_new": len(new), "label_error": label_error, "wall_time_s": time.perf_counter() - t0}
        record_path.write_text(json.dumps(record, indent=2) + "\n")
        data += new
        history.append(record)
        if record["stop"]:
            break
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return history
