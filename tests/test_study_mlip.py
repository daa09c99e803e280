"""The MLIP leg of a study: [mlip] validation key by key, the task graph, and a tiny study
run end to end with real engines (the classical set labels, a POD committee learns, the
MLIP re-melts the classical glass), killed with SIGKILL during active learning and resumed
without relabelling; a labeller that fails stops the loop cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from vitreous.errors import StudyError
from vitreous.study import load_study, run_study
from vitreous.study.graph import build_graph
from vitreous.study.spec import parse_study
from vitreous.study.store import RunStore

TINY = Path(__file__).parent / "data" / "tiny-mlip-study.toml"
CLASSICAL = Path(__file__).parent / "data" / "tiny-study.toml"


def _raw() -> dict:
    return tomllib.loads(TINY.read_text())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bogus": 1}, r"unknown key\(s\) \['bogus'\] in \[mlip\]"),
        ({"reference": "dft"}, "reference must name a labeller"),
        ({"reference": "teacher:nope"}, "reference must name a labeller"),
        ({"reference": "classical:nope"}, "reference must name a labeller"),
        ({"reference": "cp2k:nope"}, "unknown DFT settings"),
        ({"model": "deepmd"}, "model must be one of pod, gap, mace"),
        ({"committee": 1}, "at least 2"),
        ({"committee": 2.5}, "positive integer"),
        ({"trust_lo_eV_A": 2.0, "trust_hi_eV_A": 1.0}, "is empty"),
        ({"trust_hi_eV_A": -1.0}, "must be positive"),
        ({"stop_fraction": 1.5}, "between 0 and 1"),
        ({"explore_temperatures_K": []}, "non-empty list"),
        ({"explore_temperatures_K": [1000.0, -5.0]}, "positive numbers"),
        ({"cell_atoms": 5}, "at least 20"),
        ({"initial_frames": 3}, "at least 10"),
        ({"sizes": [999]}, "not among the study's sizes"),
        ({"seed": -1}, "non-negative integer"),
        ({"explore_glass": "yes"}, "true or false"),
        ({"enabled": False}, "remove the table"),
        ({"melt_quench": {"speed": 1.0}}, r"unknown key.*mlip\.melt_quench"),
        ({"melt_quench": {"t_final_K": 5000.0}}, "below t_melt_K"),
        ({"diffusion": {"temperatures_K": [0.0]}}, "positive numbers"),
        ({"tg_scan": {"enabled": True}}, "needs the study's"),
    ],
)
def test_mlip_table_validation_names_the_key(change, fragment):
    raw = _raw()
    raw["mlip"] = {**raw["mlip"], **change}
    with pytest.raises(StudyError, match=fragment):
        parse_study(raw, str(TINY))


def test_mlip_loop_defaults_are_the_libraries():
    from vitreous.mlip.active import ActiveLearningConfig
    from vitreous.study.spec import MLIPSpec

    lib, study = ActiveLearningConfig("teacher:chgnet"), MLIPSpec()
    for key in ("committee", "trust_lo_eV_A", "trust_hi_eV_A", "max_iterations", "stop_fraction", "explore_steps"):
        assert getattr(study, key) == getattr(lib, key), key


def test_mlip_tables_override_the_classical_ones_key_by_key():
    spec = load_study(TINY)
    m = spec.mlip
    assert m.melt_quench.t_melt_K == 1500.0  # overridden
    assert m.melt_quench.hold_ps == spec.melt_quench.hold_ps  # inherited
    assert m.diffusion.temperatures_K == (1200.0, 1500.0)
    assert m.diffusion.production_ps == spec.diffusion.production_ps
    assert m.tg_scan is None  # the study has none
    assert load_study(CLASSICAL).mlip is None


def test_mlip_task_graph():
    tasks = build_graph(load_study(TINY))
    by_label = {f"{t.group}/{t.label}": t for t in tasks}
    keys = {t.key: t for t in tasks}
    labels = list(by_label)
    al = [lab for lab in labels if lab.startswith("mlip-NVP28/")]
    # 40 initial frames (30 cells + 10 glass) in batches of 12; 2 iterations; 8 candidates in one batch
    assert al == [
        "mlip-NVP28/cells",
        "mlip-NVP28/label-0",
        "mlip-NVP28/label-1",
        "mlip-NVP28/label-2",
        "mlip-NVP28/label-3",
        "mlip-NVP28/al-0",
        "mlip-NVP28/al-0-label-0",
        "mlip-NVP28/al-1",
        "mlip-NVP28/model",
    ]
    # the initial frames include the classical glass: cells depends on its melt-quench
    assert [keys[d].label for d in by_label["mlip-NVP28/cells"].deps] == ["melt_quench"]
    # iteration 1 trains on the initial labels and iteration 0's
    deps1 = {f"{keys[d].group}/{keys[d].label}" for d in by_label["mlip-NVP28/al-1"].deps}
    assert {"mlip-NVP28/label-0", "mlip-NVP28/label-2", "mlip-NVP28/al-0-label-0", "mlip-NVP28/al-0"} <= deps1
    mq = by_label["NVP28-120-s3/mlip-melt_quench"]
    assert {keys[d].label for d in mq.deps} == {"melt_quench", "model"}
    assert by_label["NVP28-120-s3/mlip-diffusion-1200K"].params["mlip"] == "pod"
    # adding [mlip] leaves the classical tasks' keys as they were (their results stay valid)
    raw = _raw()
    del raw["mlip"]
    plain = {f"{t.group}/{t.label}": t.key for t in build_graph(parse_study(raw, str(TINY)))}
    for label, key in plain.items():
        if label != "/report":
            assert by_label[label].key == key, label


def _wait_for(store_path: Path, label: str, status: str, timeout_s: float, proc: subprocess.Popen) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if store_path.is_file():
            rows = {r["label"]: r for r in RunStore(store_path).rows()}
            if rows.get(label, {}).get("status") == status:
                return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {label} was {status}")
        time.sleep(0.5)
    raise AssertionError(f"{label} not {status} within {timeout_s} s")


@pytest.fixture(scope="module")
def mlip_run(tmp_path_factory):
    """The tiny MLIP study, killed (SIGKILL) while iteration 1 runs, then resumed."""
    out = tmp_path_factory.mktemp("mlip")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitreous.cli", "run", str(TINY), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_for(out / "runs.sqlite", "mlip-NVP28/al-1", "running", 600, proc)
        time.sleep(3)  # inside its committee training
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {r["label"]: r for r in RunStore(out / "runs.sqlite").rows()}
    labelled = sorted(out.glob("mlip-NVP28/*label-*/labelled.extxyz"))
    stamps = {p: p.stat().st_mtime_ns for p in labelled}
    outcome = run_study(load_study(TINY), out, "serial", log=None)
    return out, outcome, before, stamps


def test_mlip_leg_end_to_end_after_kill(mlip_run):
    out, outcome, before, stamps = mlip_run
    assert outcome["counts"] == {"complete": len(build_graph(load_study(TINY)))}, outcome["failed"]
    # resumed without relabelling: label tasks finished before the kill ran once, their files untouched
    after = {r["label"]: r for r in RunStore(out / "runs.sqlite").rows()}
    done = [lab for lab, r in before.items() if "label-" in lab and r["status"] == "complete"]
    assert len(done) == 5  # label-0..3 (40 initial frames, 12 per task), al-0-label-0
    for lab in done:
        assert after[lab]["attempts"] == 1, lab
    assert stamps and all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert after["mlip-NVP28/al-1"]["attempts"] == 2  # killed once, run again
    res = json.loads((out / "results.json").read_text())["NVP28-120-s3"]
    assert set(res) == {"cmd", "mlip"}
    for method in ("cmd", "mlip"):
        g = res[method]
        for key in ("n_V", "vo_units", "Ea_eV", "sigma_S_cm", "Tg_K", "na_classes", "short_VO_peak_A"):
            assert key in g, (method, key)
        assert g["n_V"] is not None and g["Ea_eV"] is not None and g["sigma_S_cm"]
    mlip = res["mlip"]
    assert set(mlip["sigma_S_cm"]) == {"1200", "1500"} and set(res["cmd"]["sigma_S_cm"]) == {"1500", "2000"}
    assert mlip["model"]["reference"] == "classical:bmp" and "classical" in mlip["model"]["reference_kind"]
    history = mlip["active_learning"]
    assert [h["iteration"] for h in history] == [0, 1]
    assert history[1]["n_frames"] == history[0]["n_frames"] + after["mlip-NVP28/al-0-label-0"]["result"]["n_frames"]
    # the loop learns: more of what the second committee explores is accurate than of the first
    assert history[1]["accurate_fraction"] > history[0]["accurate_fraction"]
    for h in history:
        assert 0 <= h["candidate_fraction"] <= 1 and h["forces_rmse_eV_A"] > 0
        assert sum(h["sigma_F_histogram"]["counts"]) == h["n_explored"]  # overflow bin included
    html = (out / "report" / "index.html").read_text()
    assert "MLIP (this run)" in html and "CMD (this run)" in html and "Active learning" in html
    assert (out / "report" / "NVP28-120-s3_active_learning.png").is_file()
    assert (out / "report" / "NVP28-120-s3_gVO.png").is_file()
    # thermostats: the classical leg would have one per element (BMP heats the network) but
    # 11 Na are too few for a thermostat of their own, so one chainless one on all atoms; the
    # MLIP leg (no heat source) one chain on all atoms; element temperatures are recorded
    model = out / "NVP28-120-s3"
    classical_log = (model / "melt_quench" / "log.lammps").read_text()
    assert "fix th_" not in classical_log and re.search(r"fix integ all nvt .* tchain 1", classical_log)
    mlip_log = (model / "mlip-melt_quench" / "log.lammps").read_text()
    assert "fix th_" not in mlip_log and re.search(r"fix integ all nvt .* tchain 3", mlip_log)
    assert "by_element" in after["NVP28-120-s3/mlip-melt_quench"]["result"]["stages"][1]


def test_a_failing_labeller_stops_the_loop_cleanly(tmp_path, monkeypatch):
    """Iteration 0's candidate labelling fails: that task is recorded as failed, iteration 1
    records why it did not run, and the model of iteration 0 goes on to the MLIP MD."""
    import vitreous.mlip.dataset as dataset

    real = dataset.label_frames

    def broken(frames, reference, workdir, **options):
        if "al-0-label" in str(workdir):
            raise RuntimeError("SCF did not converge (injected)")
        return real(frames, reference, workdir, **options)

    monkeypatch.setattr(dataset, "label_frames", broken)
    raw = _raw()
    raw["diffusion"] = {"enabled": False}
    spec = parse_study(raw, str(TINY))
    outcome = run_study(spec, tmp_path, "serial", log=None)
    rows = {r["label"]: r for r in RunStore(tmp_path / "runs.sqlite").rows()}
    assert rows["mlip-NVP28/al-0-label-0"]["status"] == "failed"
    assert "SCF did not converge" in rows["mlip-NVP28/al-0-label-0"]["error"]
    al1 = rows["mlip-NVP28/al-1"]
    assert al1["status"] == "complete" and al1["result"]["ran"] is False
    assert "al-0-label-0 failed" in al1["result"]["reason"]
    model = rows["mlip-NVP28/model"]
    assert model["status"] == "complete" and model["result"]["iterations"] == 1
    assert "SCF did not converge" in model["result"]["stopped_by"]
    assert rows["NVP28-120-s3/mlip-structure"]["status"] == "complete"
    assert [f["label"] for f in outcome["failed"]] == ["mlip-NVP28/al-0-label-0"], outcome["failed"]
    # the labeller works again: a rerun labels, runs iteration 1, and redoes what used the old model
    monkeypatch.setattr(dataset, "label_frames", real)
    outcome = run_study(spec, tmp_path, "serial", log=None)
    assert outcome["counts"] == {"complete": len(build_graph(spec))}, outcome["failed"]
    again = {r["label"]: r for r in RunStore(tmp_path / "runs.sqlite").rows()}
    assert again["mlip-NVP28/al-1"]["result"]["ran"] is True
    assert again["mlip-NVP28/model"]["result"]["iterations"] == 2
    for label in ("mlip-NVP28/label-0", "NVP28-120-s3/melt_quench"):  # untouched
        assert again[label]["attempts"] == 1
    assert again["NVP28-120-s3/mlip-structure"]["attempts"] == 2


def test_short_vanadyl_peak_and_ionic_share(tmp_path):
    """The report's derived numbers: a separate short V=O peak needs two first-shell peaks
    with the first below 1.70 Å; the ionic share divides the Arrhenius value at a measured
    temperature by the measured (total) conductivity there."""
    from vitreous.report.html import ionic_share, short_vo_peak

    assert short_vo_peak({"bond_lengths_A": {"V-O": [1.58, 1.92]}}) == 1.58
    assert short_vo_peak({"bond_lengths_A": {"V-O": [1.62]}}) is None  # one peak: not separate
    assert short_vo_peak({"bond_lengths_A": {"V-O": [1.75, 1.95]}}) is None
    assert short_vo_peak({}) is None
    path = tmp_path / "arrhenius.json"
    path.write_text(json.dumps({"experiment": [{"temperature_K": 473.0, "value": 4.0e-5}]}))
    g = {"arrhenius_json": str(path), "sigma_extrapolated": {"473": {"value": 2.0e-6}}}
    assert ionic_share(g) == {"473": pytest.approx(0.05)}
    assert ionic_share({}) == {}
