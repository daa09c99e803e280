"""Predictions of a trained model and their errors against a labelled set.

Metrics are always computed from predictions that are also written out (extxyz with the
same keys as the labels), so anyone can recompute them: :func:`test_model` writes
``<stem>.predictions.extxyz`` beside the metrics JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import AnalysisError
from vitreous.mlip.dataset import error_metrics, evaluate_with, write_dataset
from vitreous.mlip.models import MLIPModel

__all__ = ["STUDY_GAP_TEST", "metrics_by_temperature", "parity_plot", "predict", "test_model"]

#: test errors of the study's GAP (SYSTEM.md, item 5): trained on f-BOMD (DFT) labels
STUDY_GAP_TEST = {"energy_rmse_meV_atom": 5.8, "forces_rmse_eV_A": 0.4, "virial_rmse_meV_atom": 16.9}


def predict(
    model: MLIPModel,
    frames: Sequence[Atoms],
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[Atoms]:
    """Energy (eV), forces (eV/Å), stress (eV/Å³) and virial (eV, W = −σV) of each frame.

    Returns copies whose ``info['reference']`` names the model (``mlip:<kind>:<folder>``),
    so predictions can never pass for labels.
    """
    if not frames:
        raise AnalysisError("no frames to predict")
    from vitreous.species import species_list

    for a in frames:
        model.check_covers(species_list(a.copy()))
    calc = model.calculator(threads=threads)
    return evaluate_with(frames, calc, model.name, progress, keep_info=("source", "temperature_K"))


def metrics_by_temperature(reference: Sequence[Atoms], predicted: Sequence[Atoms]) -> dict[str, dict[str, Any]]:
    """:func:`error_metrics` per temperature of origin (``info['temperature_K']``, rounded to K)."""
    groups: dict[str, list[int]] = {}
    for k, a in enumerate(reference):
        t = a.info.get("temperature_K")
        key = "unknown" if t is None or not np.isfinite(t) else f"{round(float(t))}"
        groups.setdefault(key, []).append(k)
    return {
        key: error_metrics([reference[i] for i in idx], [predicted[i] for i in idx])
        for key, idx in sorted(
            groups.items(), key=lambda kv: (kv[0] == "unknown", float(kv[0] or 0) if kv[0] != "unknown" else 0)
        )
    }


def parity_plot(
    reference: Sequence[Atoms], predicted: Sequence[Atoms], path: str | os.PathLike, title: str = ""
) -> Path:
    """Energy per atom and force-component parity plots (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e_ref = np.array([a.info["energy"] / len(a) for a in reference])
    e_pred = np.array([a.info["energy"] / len(a) for a in predicted])
    f_ref = np.concatenate([a.arrays["forces"].ravel() for a in reference])
    f_pred = np.concatenate([a.arrays["forces"].ravel() for a in predicted])
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, x, y, label in ((axes[0], e_ref, e_pred, "energy (eV/atom)"), (axes[1], f_ref, f_pred, "force (eV/Å)")):
        ax.scatter(x, y, s=4, alpha=0.5)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"model {label}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def test_model(
    model: MLIPModel,
    frames: Sequence[Atoms],
    metrics_path: str | os.PathLike,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Errors of ``model`` on labelled ``frames``: writes the predictions
    (``<metrics stem>.predictions.extxyz``), a parity plot (``<stem>.parity.png``) and the
    metrics JSON (overall, by temperature of origin, the study's GAP figures beside them).

    Returns
    -------
    dict
        As written to ``metrics_path``.
    """
    if not frames:
        raise AnalysisError("an empty test set")
    refs = {a.info.get("reference", "unlabelled") for a in frames}
    metrics_path = Path(metrics_path)
    stem = metrics_path.with_suffix("")
    t0 = time.perf_counter()
    pred = predict(model, frames, threads=threads, progress=progress)
    seconds = time.perf_counter() - t0
    pred_path = write_dataset(pred, f"{stem}.predictions.extxyz")
    metrics = {
        "model": model.name,
        "model_reference": model.card["reference"],
        "labels_reference": sorted(refs),
        **error_metrics(frames, pred),
        "by_temperature_K": metrics_by_temperature(frames, pred),
        "predictions": pred_path.name,
        "seconds_per_frame": seconds / len(frames),
        "study_gap_test": STUDY_GAP_TEST,
    }
    parity_plot(frames, pred, f"{stem}.parity.png", title=f"{model.name} vs {', '.join(sorted(refs))}")
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
