"""Trained MLIPs: each trainer fits a tiny model on a small NVP28 set labelled in the test by
a classical field, beats a trivial baseline by a wide margin, and its card's metrics equal a
recomputation from the predictions it wrote; MLIP MD runs through the driver, resumes after
kill -9, stops on a close contact; unseen species are refused; the CLI gives one line and
exit 2 on bad input."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from ase.io import read

from vitreous.errors import AnalysisError, EngineError, PotentialError
from vitreous.io import write_structure
from vitreous.io.trajectory import H5MDTrajectory
from vitreous.mlip import label_frames, read_dataset, write_dataset
from vitreous.mlip.cells import small_cells
from vitreous.mlip.evaluate import predict
from vitreous.mlip.train import GAPConfig, MACEConfig, PODConfig, train_model
from vitreous.potentials import Coulomb
from vitreous.protocols import Protocol, Stage

REFERENCE = "classical:pmmcs+bmp-v"


@pytest.fixture(scope="module")
def labelled_set(tmp_path_factory):
    """60 frames of 80-atom NVP28 cells (800 and 1600 K, three volumes), labelled by
    pmmcs+bmp-v with DSF Coulomb (a smooth, cheap reference; stated in every frame)."""
    work = tmp_path_factory.mktemp("cells")
    frames = small_cells(
        "NVP28",
        80,
        None,
        [800.0, 1600.0],
        10,
        "pmmcs+bmp-v",
        seed=5,
        spacing_fs=50.0,
        equilibration_ps=0.5,
        workdir=work,
        volume_scales=(0.94, 1.0, 1.06),
    )
    labelled = label_frames(frames, REFERENCE, work / "label", coulomb=Coulomb("dsf"))
    path = write_dataset(labelled, work / "set.extxyz")
    return path


@pytest.fixture(scope="module")
def pod_model(labelled_set, tmp_path_factory):
    frames = read_dataset(labelled_set)
    # a small basis for a small set (the default basis overfits 48 frames: measured, its MD
    # lost atoms within 600 steps at 1000 K)
    cfg = PODConfig(twobody_radial=6, threebody_radial=4, threebody_angular=3)
    return train_model(frames, tmp_path_factory.mktemp("pod") / "model", "pod", cfg, seed=1)


def _rmse_from_files(ref_path, pred_path):
    """Errors recomputed from the written files with plain numpy (not error_metrics)."""
    ref = read(ref_path, index=":")
    pred = read(pred_path, index=":")
    de = [(p.get_potential_energy() - r.get_potential_energy()) / len(r) for r, p in zip(ref, pred, strict=True)]
    df = np.concatenate([(p.get_forces() - r.get_forces()).ravel() for r, p in zip(ref, pred, strict=True)])
    return 1000 * np.sqrt(np.mean(np.square(de))), np.sqrt(np.mean(df**2))


def _baseline(train, test):
    """A trivial model: the training set's mean energy per atom, zero forces."""
    mean = np.mean([a.info["energy"] / len(a) for a in train])
    e = 1000 * np.sqrt(np.mean([(a.info["energy"] / len(a) - mean) ** 2 for a in test]))
    f = np.sqrt(np.mean(np.concatenate([a.arrays["forces"].ravel() ** 2 for a in test])))
    return e, f


def _check_trained(model, wide=0.5):
    card = model.card
    assert card["reference"] == REFERENCE and card["reference_kind"] == "classical force field"
    assert card["elements"] == ["Na", "O", "P", "V"]
    assert {tuple(s) for s in card["species"]} >= {("V", 4), ("V", 5)}
    train = read_dataset(model.path / "train.extxyz")
    test = read_dataset(model.path / "test.extxyz")
    base_e, base_f = _baseline(train, test)
    got = card["metrics"]["test"]
    assert got["energy_rmse_meV_atom"] < wide * base_e, (got["energy_rmse_meV_atom"], base_e)
    assert got["forces_rmse_eV_A"] < wide * base_f, (got["forces_rmse_eV_A"], base_f)
    e, f = _rmse_from_files(model.path / "test.extxyz", model.path / "test.predictions.extxyz")
    assert got["energy_rmse_meV_atom"] == pytest.approx(e, rel=1e-6, abs=1e-6)
    assert got["forces_rmse_eV_A"] == pytest.approx(f, rel=1e-6)
    # the predictions name the model, never the labels' reference
    assert all(a.info["reference"].startswith("mlip:") for a in read_dataset(model.path / "test.predictions.extxyz"))
    assert set(card["metrics"]["test"]["by_temperature_K"]) <= {"800", "1600"}


def test_pod_beats_the_baseline_and_its_metrics_recompute(pod_model):
    _check_trained(pod_model, wide=0.3)
    assert pod_model.engines[0] == "lammps"
    assert pod_model.card["fitted"] == ["energy", "forces"]  # fitpod fits no virials


def test_pod_in_lammps_equals_its_ase_calculator_and_stress_is_the_strain_derivative(pod_model, tmp_path):
    a = read_dataset(pod_model.path / "test.extxyz")[0]
    a.calc = pod_model.calculator(workdir=tmp_path / "calc")
    s = a.get_stress(voigt=False)
    e0 = a.get_potential_energy()
    h, v = 1e-4, a.get_volume()
    for i, j in ((0, 0), (0, 1), (1, 2)):
        es = []
        for sign in (1, -1):
            b = a.copy()
            b.calc = a.calc
            eps = np.eye(3)
            eps[i, j] += sign * h
            b.set_cell(b.cell.array @ eps, scale_atoms=True)
            es.append(b.get_potential_energy())
        assert s[i, j] == pytest.approx((es[0] - es[1]) / (2 * h) / v, rel=1e-3, abs=1e-6)
    # the same model as a LAMMPS pair style inside an MD run, step 0
    proto = Protocol("sp", (Stage("nve", "nve", 1, trajectory_every=1, thermo_every=1, checkpoint_every=1),))
    from vitreous.engines.factory import mlip_md

    res = mlip_md(a, pod_model, proto, tmp_path / "md", seed=0).run(progress=False)
    with H5MDTrajectory(res.trajectory) as traj:
        frame = traj[len(traj) - 1]
        frame.calc = a.calc
        assert traj.observables()["potential_energy"][-1] == pytest.approx(frame.get_potential_energy(), rel=1e-8)
    assert e0 != frame.get_potential_energy()  # it did move


def _md_cmd(structure, out, model_dir, steps, engine="lammps"):
    return [
        sys.executable,
        "-m",
        "vitreous.cli",
        "md",
        str(structure),
        "-o",
        str(out),
        "--temperature-K",
        "1000",
        "--steps",
        str(steps),
        "--trajectory-every",
        "50",
        "--checkpoint-every",
        "100",
        "--seed",
        "3",
        "--threads",
        "1",
        "--potential",
        f"mlip:{model_dir}",
        "--engine",
        engine,
    ]


@pytest.mark.parametrize("engine", ["lammps", "ase"])
def test_mlip_md_resumes_after_kill_9(pod_model, tmp_path, kill_at, engine):
    """POD through the CLI on both engines (LAMMPS pair style; ASE via its calculator): kill
    -9 mid-run and rerun gives the uninterrupted run's frames (NH chain: positions 1e-4 Å)."""
    structure = tmp_path / "start.extxyz"
    write_structure(read_dataset(pod_model.path / "train.extxyz")[0], structure)
    steps = 1200 if engine == "lammps" else 400
    ref = subprocess.run(
        _md_cmd(structure, tmp_path / "ref", pod_model.path, steps, engine), capture_output=True, text=True
    )
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "killed"
    kill_at(_md_cmd(structure, run, pod_model.path, steps, engine), run, steps // 2 - 100)
    again = subprocess.run(_md_cmd(structure, run, pod_model.path, steps, engine), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with H5MDTrajectory(tmp_path / "ref" / "trajectory.h5") as a, H5MDTrajectory(run / "trajectory.h5") as b:
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_allclose(a.positions(slice(-1, None)), b.positions(slice(-1, None)), atol=1e-4)
        assert b.metadata["forcefield"].startswith("mlip:pod:")
    assert json.loads((run / "summary.json").read_text())["resumed"] is True


def test_core_repulsion_adds_exactly_its_wall_below_the_training_range(pod_model, tmp_path):
    """The POD core term: k (r_c − r)³ for every pair nearer than 0.85 × its shortest training
    distance, nothing elsewhere (so the fit itself is untouched)."""
    import copy

    from vitreous.mlip.models import CORE_FRACTION, CORE_REPULSION_K_EV_A3, MLIPModel

    a = read_dataset(pod_model.path / "train.extxyz")[0]
    sym = a.get_chemical_symbols()
    o = [k for k, s in enumerate(sym) if s == "O"]
    r_min = pod_model.card["pair_min_distance_A"]["O-O"]
    b = a.copy()
    b.positions[o[1]] = b.positions[o[0]] + [0.80 * r_min, 0.0, 0.0]  # inside the wall, above the stop
    bare = MLIPModel(pod_model.path, {k: v for k, v in copy.deepcopy(pod_model.card).items() if k != "core_repulsion"})
    energies = []
    for model in (pod_model, bare):
        b.calc = model.calculator(workdir=tmp_path / model.kind / str(len(energies)))
        energies.append(b.get_potential_energy())
    from vesin import NeighborList

    i, j, d = NeighborList(cutoff=3.0, full_list=False).compute(
        points=b.positions, box=b.cell.array, periodic=True, quantities="ijd"
    )
    expected = 0.0
    for x, y, r in zip(i, j, d, strict=True):
        r_c = CORE_FRACTION * pod_model.card["pair_min_distance_A"]["-".join(sorted((sym[x], sym[y])))]
        expected += CORE_REPULSION_K_EV_A3 * max(r_c - r, 0.0) ** 3
    assert expected > 0.01
    assert energies[0] - energies[1] == pytest.approx(expected, rel=1e-3)
    a.calc = pod_model.calculator(workdir=tmp_path / "train")
    e_with = a.get_potential_energy()
    a.calc = bare.calculator(workdir=tmp_path / "train-bare")
    assert a.get_potential_energy() == pytest.approx(e_with, abs=1e-9)  # a training frame: no wall


def test_close_contact_and_unseen_species_stop_before_harm(pod_model, tmp_path):
    from vitreous.engines.factory import mlip_md

    a = read_dataset(pod_model.path / "train.extxyz")[0]
    proto = Protocol("t", (Stage("nvt", "nvt", 100, t_start_K=1000.0, thermo_every=10, checkpoint_every=100),))
    # an injected close contact: one Na put 0.9 Å from an O
    b = a.copy()
    na = b.get_chemical_symbols().index("Na")
    o = b.get_chemical_symbols().index("O")
    b.positions[na] = b.positions[o] + [0.9, 0.0, 0.0]
    with pytest.raises(EngineError, match="close contact.*Na-O"):
        mlip_md(b, pod_model, proto, tmp_path / "contact", seed=0).run(progress=False)
    # an element the model never saw, and a valence it never saw: refused before running
    c = a.copy()
    c.symbols[na] = "Li"
    c.arrays["valence"][na] = 1
    with pytest.raises(PotentialError, match="never trained on Li"):
        mlip_md(c, pod_model, proto, tmp_path / "li", seed=0)
    d = a.copy()
    d.arrays["valence"][d.get_chemical_symbols().index("V")] = 3
    with pytest.raises(PotentialError, match="V\\+3"):
        mlip_md(d, pod_model, proto, tmp_path / "v3", seed=0)
    assert not (tmp_path / "li").exists() and not (tmp_path / "v3").exists()
    with pytest.raises(PotentialError, match="never trained on Li"):
        predict(pod_model, [c])


def test_training_refuses_bad_sets(labelled_set, tmp_path):
    frames = read_dataset(labelled_set)
    with pytest.raises(AnalysisError, match="empty"):
        train_model([], tmp_path / "a", "pod")
    mixed = [f.copy() for f in frames]
    mixed[0].info["reference"] = "teacher:chgnet"
    with pytest.raises(AnalysisError, match="different references"):
        train_model(mixed, tmp_path / "b", "pod")
    no_virial = [f.copy() for f in frames]
    del no_virial[2].info["virial"]
    with pytest.raises(AnalysisError, match="lacks virial"):
        train_model(no_virial, tmp_path / "c", "gap")
    with pytest.raises(AnalysisError, match="unknown model"):
        train_model(frames, tmp_path / "d", "nequip")
    with pytest.raises(AnalysisError, match="PODConfig"):
        train_model(frames, tmp_path / "e", "pod", GAPConfig())


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "vitreous.cli", "mlip", *map(str, args)], capture_output=True, text=True
    )


def test_cli_bad_input_gives_one_line_and_exit_2(labelled_set, pod_model, tmp_path):
    unlabelled = tmp_path / "unlabelled.extxyz"
    frames = read_dataset(labelled_set)[:3]
    for f in frames:
        f.info = {"source": f.info["source"]}
        del f.arrays["forces"]
    from ase.io import write

    write(unlabelled, frames, format="extxyz")
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    li = read_dataset(labelled_set)[:2]
    for f in li:
        f.symbols[0] = "Li"
    write_dataset(li, tmp_path / "li.extxyz")
    cases = [
        (("train", unlabelled, "-o", tmp_path / "m1"), "lacks energy"),
        (("train", empty, "-o", tmp_path / "m2"), "no frames"),
        (("train", labelled_set, "-o", tmp_path / "m3", "--model", "snap"), "unknown model"),
        (("label", empty, "--reference", REFERENCE, "-o", tmp_path / "l.extxyz"), "no frames"),
        (("label", unlabelled, "--reference", "dft", "-o", tmp_path / "l.extxyz"), "cannot read reference"),
        (("label", unlabelled, "--reference", "teacher:mace-mp", "-o", tmp_path / "l.extxyz"), "unknown teacher"),
        (("test", pod_model.path, tmp_path / "li.extxyz", "-o", tmp_path / "t.json"), "never trained on Li"),
        (("test", pod_model.path, unlabelled, "-o", tmp_path / "t.json"), "lacks energy"),
        (("test", tmp_path, labelled_set, "-o", tmp_path / "t.json"), "not a trained model"),
        (("predict", pod_model.path, empty, "-o", tmp_path / "p.extxyz"), "no frames"),
        (("dataset", "-o", tmp_path / "s.extxyz"), "nothing to choose from"),
    ]
    for args, message in cases:
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_cli_label_train_test_predict_round(labelled_set, tmp_path):
    """The CLI path end to end: label (classical), train POD, test, predict; the test
    metrics equal the errors of the predicted file against the labels."""
    frames = read_dataset(labelled_set)
    for f in frames:
        f.info = {k: v for k, v in f.info.items() if k in ("source", "temperature_K")}
        del f.arrays["forces"]
    from ase.io import write

    write(tmp_path / "raw.extxyz", frames, format="extxyz")
    r = _cli(
        "label", tmp_path / "raw.extxyz", "--reference", REFERENCE, "--coulomb", "dsf", "-o", tmp_path / "lab.extxyz"
    )
    assert r.returncode == 0, r.stderr
    r = _cli("train", tmp_path / "lab.extxyz", "-o", tmp_path / "model")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "model" / "card.json").read_text())["model"] == "pod"  # the default
    r = _cli("test", tmp_path / "model", tmp_path / "lab.extxyz", "-o", tmp_path / "metrics.json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("energy_rmse_meV_atom", "forces_rmse_eV_A", "virial_rmse_meV_atom", "energy_mae_meV_atom"):
        assert np.isfinite(metrics[key])
    e, f = _rmse_from_files(tmp_path / "lab.extxyz", tmp_path / metrics["predictions"])
    assert metrics["energy_rmse_meV_atom"] == pytest.approx(e, rel=1e-6)
    assert metrics["forces_rmse_eV_A"] == pytest.approx(f, rel=1e-6)
    r = _cli("predict", tmp_path / "model", tmp_path / "raw.extxyz", "-o", tmp_path / "pred.extxyz")
    assert r.returncode == 0, r.stderr
    pred = read_dataset(tmp_path / "pred.extxyz")
    assert len(pred) == len(frames) and all("virial" in p.info for p in pred)


def test_gap_trains_and_runs_on_the_ase_backend(labelled_set, tmp_path):
    """A tiny GAP (2-body + SOAP l_max 2, n_max 3): beats the baseline, metrics recompute,
    and a short NVT runs through the ASE backend."""
    pytest.importorskip("quippy")
    frames = read_dataset(labelled_set)
    cfg = GAPConfig(cutoff_A=4.5, n_sparse_2b=10, soap_l_max=2, soap_n_max=3, n_sparse_soap=40)
    model = train_model(frames, tmp_path / "gap", "gap", cfg, seed=2)
    _check_trained(model)
    assert model.engines == ("ase",) and model.card["fitted"] == ["energy", "forces", "virial"]
    from vitreous.engines.factory import mlip_md

    proto = Protocol("t", (Stage("nvt", "nvt", 20, t_start_K=1000.0, thermo_every=5, checkpoint_every=10),))
    res = mlip_md(frames[0], model, proto, tmp_path / "md", seed=0).run(progress=False)
    assert res.summary["engine"] == "ase" and res.summary["status"] == "complete"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mace") is None, reason="MACE is the optional extra vitreous[mace]")
def test_mace_trains_and_runs_on_the_ase_backend(labelled_set, tmp_path):
    frames = read_dataset(labelled_set)
    model = train_model(
        frames, tmp_path / "mace", "mace", MACEConfig(max_num_epochs=80, num_channels=8, energy_weight=10.0), seed=3
    )
    _check_trained(model)
    from vitreous.engines.factory import mlip_md

    proto = Protocol("t", (Stage("nvt", "nvt", 20, t_start_K=1000.0, thermo_every=5, checkpoint_every=10),))
    res = mlip_md(frames[0], model, proto, tmp_path / "md", seed=0).run(progress=False)
    assert res.summary["status"] == "complete"
