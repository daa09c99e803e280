"""Running a study: register the task graph in the store, then execute it serially or on
Dask (a LocalCluster, a scheduler address, or a dask-jobqueue SLURM/PBS cluster).

Reruns skip complete tasks; tasks left 'running' by a killed run are run again, and their
engines resume from their own checkpoints (the task folders are deterministic).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitreous.errors import StudyError
from vitreous.study.graph import Task, build_graph
from vitreous.study.spec import StudySpec
from vitreous.study.store import RunStore
from vitreous.study.tasks import execute_task, is_current

__all__ = ["StudyOutcome", "run_study"]

STORE = "runs.sqlite"


class StudyOutcome(dict):
    """Summary of a study run: counts per status, output folder, report path, wall time."""


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log is not None:
        log(text)


def run_study(
    spec: StudySpec,
    output: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    log: Callable[[str], None] | None = print,
) -> StudyOutcome:
    """Run every task of ``spec`` that is not complete; return the outcome.

    Parameters
    ----------
    executor : {"serial", "dask"}, optional
        Overrides the study file.
    workers : int, optional
        Dask workers of a LocalCluster (overrides the study file).
    """
    out_dir = spec.output_dir(output).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "study.json").write_text(json.dumps(spec.to_dict(), indent=2, default=str))
    store = RunStore(out_dir / STORE)
    tasks = build_graph(spec)
    for t in tasks:
        store.register(t.key, t.kind, f"{t.group}/{t.label}" if t.group else t.label, t.params)
    kind = executor or spec.executor
    t0 = time.perf_counter()
    _say(log, f"study '{spec.name}': {len(tasks)} tasks, executor {kind}, output {out_dir}")
    if kind == "serial":
        _serial(tasks, out_dir, store, log)
    elif kind == "dask":
        _dask(spec, tasks, out_dir, store, workers or spec.workers, log)
    else:
        raise StudyError(f"unknown executor '{kind}'", hint="serial or dask")
    rows = {r["key"]: r for r in store.rows()}
    counts: dict[str, int] = {}
    for t in tasks:
        st = rows[t.key]["status"]
        counts[st] = counts.get(st, 0) + 1
    report = next((rows[t.key] for t in tasks if t.kind == "report"), None)
    outcome = StudyOutcome(
        output=str(out_dir),
        counts=counts,
        wall_s=time.perf_counter() - t0,
        report=str(out_dir / report["outputs"]["html"]) if report and report.get("outputs") else None,
        failed=[
            {"label": rows[t.key]["label"], "error": (rows[t.key]["error"] or "").splitlines()[0]}
            for t in tasks
            if rows[t.key]["status"] in ("failed", "skipped")
        ],
    )
    return outcome


def _describe(row: dict[str, Any]) -> str:
    res = row.get("result") or {}
    wall = res.get("task_wall_s")
    extra = ""
    if row["kind"] == "structure" and res.get("n_V") is not None:
        extra = f" n_V {res['n_V']:.2f}"
    elif row["kind"] == "tg" and "Tg_K" in res:
        extra = f" Tg {res['Tg_K']:.0f} K"
    elif row["kind"] == "dynamics" and "D_cm2_s" in res:
        extra = f" D {res['D_cm2_s']:.2e} cm²/s, σ {res['sigma_S_cm']:.2e} S/cm"
    elif row["kind"] == "arrhenius" and "Ea_eV" in res:
        extra = f" Ea {res['Ea_eV']:.2f} ± {res['Ea_err_eV']:.2f} eV"
    timing = f" ({wall:.0f} s)" if wall is not None else ""
    if row["status"] in ("failed", "skipped"):
        extra = " — " + (row.get("error") or "").splitlines()[0]
    return f"{row['status']:>8}: {row['label']}{timing}{extra}"


def _serial(tasks: list[Task], out_dir: Path, store: RunStore, log: Callable[[str], None] | None) -> None:
    for i, task in enumerate(tasks, start=1):
        row = store.get(task.key)
        if is_current(row, [store.get(k) for k in task.deps]):
            _say(log, f"[{i}/{len(tasks)}] already complete: {row['label']}")
            continue
        _say(log, f"[{i}/{len(tasks)}] {task.kind} {task.group} {task.label} ...")
        row = execute_task(task, out_dir, store.path)
        _say(log, f"[{i}/{len(tasks)}] {_describe(row)}")


def _make_client(spec: StudySpec, workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise StudyError("the dask executor needs 'distributed'", hint="pip install 'vitreous[dask]'") from exc
    if spec.scheduler_address:
        return Client(spec.scheduler_address), None
    if spec.cluster:
        try:
            import dask_jobqueue
        except ImportError as exc:
            raise StudyError("[cluster] needs dask-jobqueue", hint="pip install dask-jobqueue") from exc
        c = dict(spec.cluster)
        c.pop("resources", None)  # per task kind, given at submission
        cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[c.pop("kind")]
        jobs = c.pop("jobs", workers)
        cluster = cls(**c)
        cluster.scale(jobs=jobs)
        return Client(cluster), cluster
    # a study's threads = 0 means "all cores"; on a local cluster each worker gets its share,
    # not every core (LammpsSettings reads VITREOUS_THREADS), so workers do not oversubscribe
    share = max(1, (os.cpu_count() or 1) // workers)
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"VITREOUS_THREADS": str(share)},
    )
    return Client(cluster), cluster


def _descendants(tasks: list[Task]) -> dict[str, int]:
    """Number of tasks downstream of each task: the Dask priority, so that among ready tasks
    the heads of long chains (the active-learning loop before the MLIP MD) start first."""
    below: dict[str, set[str]] = {t.key: set() for t in tasks}
    for t in reversed(tasks):  # tasks are in topological order
        for d in t.deps:
            below[d] |= below[t.key] | {t.key}
    return {k: len(v) for k, v in below.items()}


def _dask(
    spec: StudySpec, tasks: list[Task], out_dir: Path, store: RunStore, workers: int, log: Callable[[str], None] | None
) -> None:
    from distributed import as_completed

    client, cluster = _make_client(spec, workers)
    try:
        futures: dict[str, Any] = {}
        # resources per task kind apply to cluster workers only (a local cluster declares none)
        resources = spec.cluster.get("resources", {}) if spec.cluster else {}
        priority = _descendants(tasks)
        for task in tasks:
            deps = [futures[k] for k in task.deps if k in futures]
            futures[task.key] = client.submit(
                execute_task,
                task,
                str(out_dir),
                str(store.path),
                *deps,
                key=f"{task.kind}-{task.key}",
                pure=False,
                resources=resources.get(task.kind),
                priority=priority[task.key],
            )
        done = 0
        for fut in as_completed(list(futures.values())):
            done += 1
            row = fut.result()
            _say(log, f"[{done}/{len(tasks)}] {_describe(row)}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
