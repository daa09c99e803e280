"""The active-learning loop on a tiny NVP28 system with a classical labeller: the candidate
fraction falls and the error on a fixed held-out set falls; a rerun after losing an
unfinished iteration redoes only that one (labels of finished ones are reused, not redone);
a labeller failure is recorded and ends the loop cleanly; bad settings are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vitreous.errors import AnalysisError
from vitreous.mlip import error_metrics, label_frames
from vitreous.mlip.active import ActiveLearningConfig, run_active_learning
from vitreous.mlip.cells import small_cells
from vitreous.mlip.evaluate import predict
from vitreous.mlip.models import load_model
from vitreous.potentials import Coulomb

REFERENCE = "classical:pmmcs+bmp-v"
DSF = {"coulomb": Coulomb("dsf")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An initial set from 800 K only (12 frames of 80 atoms) and a held-out set at 1400 K."""
    work = tmp_path_factory.mktemp("al")
    cold = small_cells("NVP28", 80, None, [800.0], 12, "pmmcs+bmp-v", 31, spacing_fs=50.0, workdir=work / "c")
    hot = small_cells("NVP28", 80, None, [1400.0], 8, "pmmcs+bmp-v", 57, spacing_fs=50.0, workdir=work / "h")
    return (
        label_frames(cold, REFERENCE, work / "l1", **DSF),
        label_frames(hot, REFERENCE, work / "l2", **DSF),
        cold[-1],
    )


def _config(**kw):
    base = dict(
        reference=REFERENCE,
        committee=2,
        temperatures_K=(800.0, 1400.0),
        explore_steps=600,
        explore_every=30,
        candidates_per_iteration=12,
        max_iterations=3,
        seed=1,
        label_options=DSF,
    )
    base.update(kw)
    return ActiveLearningConfig(**base)


@pytest.mark.slow  # ~75 s; the default suite runs the loop through test_labeller_failure_is_recorded_and_stops
def test_loop_learns_and_resumes_without_relabelling(tiny, tmp_path):
    initial, held_out, start = tiny
    history = run_active_learning(initial, [start], _config(), tmp_path / "al")
    assert len(history) >= 2
    assert history[-1]["candidate_fraction"] < history[0]["candidate_fraction"]
    assert history[-1]["n_frames"] > history[0]["n_frames"] == len(initial)
    errors = []
    for rec in (history[0], history[-1]):
        model = load_model(tmp_path / "al" / f"it_{rec['iteration']}" / "model_0")
        errors.append(error_metrics(held_out, predict(model, held_out))["forces_rmse_eV_A"])
    assert errors[1] < errors[0], errors  # the 1400 K frames it was never given at the start
    assert all(r["reference"] == REFERENCE for r in history)
    # lose the last iteration's record (as a kill would), rerun: the finished ones are reused
    labelled0 = tmp_path / "al" / "it_0" / "labelled.extxyz"
    stamp = labelled0.stat().st_mtime_ns
    last = tmp_path / "al" / f"it_{history[-1]['iteration']}" / "iteration.json"
    last.unlink()
    again = run_active_learning(initial, [start], _config(), tmp_path / "al")
    assert labelled0.stat().st_mtime_ns == stamp
    assert [r["n_frames"] for r in again] == [r["n_frames"] for r in history]
    assert json.loads((tmp_path / "al" / "history.json").read_text())[-1]["iteration"] == history[-1]["iteration"]


def test_labeller_failure_is_recorded_and_stops(tiny, tmp_path):
    initial, _, start = tiny
    cfg = _config(max_iterations=3, label_options={"coulomb": "not-a-coulomb"})
    history = run_active_learning(initial, [start], cfg, tmp_path / "al")
    assert len(history) == 1 and history[0]["stop"] and history[0]["label_error"]
    assert np.isfinite(history[0]["forces_rmse_eV_A"])


def test_bad_settings_are_refused(tiny, tmp_path):
    initial, _, start = tiny
    with pytest.raises(AnalysisError, match="at least 2"):
        _config(committee=1)
    with pytest.raises(AnalysisError, match="empty"):
        _config(trust_lo_eV_A=1.0, trust_hi_eV_A=0.5)
    with pytest.raises(AnalysisError, match="labelled by"):
        run_active_learning(initial, [start], _config(reference="teacher:chgnet"), tmp_path / "x")
    with pytest.raises(AnalysisError, match="needs an initial"):
        run_active_learning([], [start], _config(), tmp_path / "y")
