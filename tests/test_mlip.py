"""MLIP data sets: frame selection, labelling by a named reference, splits, extxyz round trip
and error metrics checked against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from vitreous.engines.lammps_runtime import energy_forces
from vitreous.errors import AnalysisError, InputFileError
from vitreous.mlip import descriptor, error_metrics, label_frames, read_dataset, select_frames, split, write_dataset
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.species import type_map


def test_selection_is_diverse_deterministic_and_named(liquid_nvp28):
    a = select_frames([liquid_nvp28], 6, seed=1)
    b = select_frames([liquid_nvp28], 6, seed=1)
    assert [f.info["source"] for f in a] == [f.info["source"] for f in b]
    assert len({f.info["source"] for f in a}) == 6 and all(np.isfinite(f.info["temperature_K"]) for f in a)

    def min_distance(frames):
        x = np.array([descriptor(f) for f in frames])
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return d[np.triu_indices(len(x), 1)].min()

    from vitreous.io.trajectory import open_trajectory

    with open_trajectory(liquid_nvp28) as traj:
        consecutive = [traj[k] for k in range(6)]
    assert min_distance(a) > min_distance(consecutive)  # farthest points, not neighbours in time
    with pytest.raises(AnalysisError, match="positive"):
        select_frames([liquid_nvp28], 0)
    with pytest.raises(InputFileError):
        select_frames([], 3)


def test_classical_labels_equal_a_single_point_and_round_trip(liquid_nvp28, tmp_path):
    frames = select_frames([liquid_nvp28], 3, seed=2)
    coul = Coulomb("dsf")
    labelled = label_frames(frames, "classical:pmmcs+bmp-v", tmp_path / "lmp", coulomb=coul)
    ff = load_forcefield("pmmcs+bmp-v")
    for f in labelled:
        species, _, _ = type_map(f)
        cmds = ff.lammps_commands(species, coul, tmp_path)
        e, forces = energy_forces(f, cmds, tmp_path, charges=[ff.charges[s] for s in species])
        assert f.info["energy"] == pytest.approx(e, rel=1e-9)
        np.testing.assert_allclose(f.arrays["forces"], forces, atol=1e-8)
        np.testing.assert_allclose(f.info["virial"], -f.info["stress"] * f.get_volume())
        assert f.info["reference"] == "classical:pmmcs+bmp-v"
    path = write_dataset(labelled, tmp_path / "set.extxyz")
    back = read_dataset(path)
    assert [f.info["source"] for f in back] == [f.info["source"] for f in labelled]
    for x, y in zip(back, labelled, strict=True):
        # extxyz keeps 8 decimals of per-atom arrays: 1e-8 eV/Å
        assert x.info["energy"] == pytest.approx(y.info["energy"], rel=1e-10)
        np.testing.assert_allclose(x.arrays["forces"], y.arrays["forces"], atol=1e-7)
        np.testing.assert_allclose(x.info["virial"], y.info["virial"], rtol=1e-7, atol=1e-7)
        assert x.info["reference"] == "classical:pmmcs+bmp-v"
    assert error_metrics(labelled, back)["forces_rmse_eV_A"] < 1e-7


def test_split_is_deterministic_disjoint_and_complete(liquid_nvp28):
    frames = select_frames([liquid_nvp28], 10, seed=3)
    tr, va, te = split(frames, (0.8, 0.1, 0.1), seed=4)
    again = split(frames, (0.8, 0.1, 0.1), seed=4)
    names = [[f.info["source"] for f in part] for part in (tr, va, te)]
    assert names == [[f.info["source"] for f in part] for part in again]
    assert (len(tr), len(va), len(te)) == (8, 1, 1)
    assert sorted(n for part in names for n in part) == sorted(f.info["source"] for f in frames)
    with pytest.raises(AnalysisError, match="summing to 1"):
        split(frames, (0.5, 0.1, 0.1))
    with pytest.raises(AnalysisError, match="at least 3"):
        split(frames[:2])


def test_error_metrics_against_hand_computation(liquid_nvp28):
    frames = select_frames([liquid_nvp28], 2, seed=5)
    ref, pred = [], []
    for k, f in enumerate(frames):
        r = f.copy()
        r.info.update({"energy": -100.0 - k, "virial": np.zeros((3, 3))})
        r.arrays["forces"] = np.zeros((len(f), 3))
        p = r.copy()
        p.info = dict(r.info, energy=r.info["energy"] + 0.405, virial=np.eye(3) * 0.81)
        p.arrays["forces"] = np.zeros((len(f), 3))
        p.arrays["forces"][0, 0] = 0.3  # one component of one atom per frame
        ref.append(r)
        pred.append(p)
    n = len(frames[0])
    m = error_metrics(ref, pred)
    assert m["energy_rmse_meV_atom"] == pytest.approx(405.0 / n) and m["energy_mae_meV_atom"] == pytest.approx(
        405.0 / n
    )
    assert m["forces_rmse_eV_A"] == pytest.approx(np.sqrt(2 * 0.09 / (2 * n * 3)))
    assert m["forces_mae_eV_A"] == pytest.approx(2 * 0.3 / (2 * n * 3))
    el = frames[0].get_chemical_symbols()[0]
    n_el = frames[0].get_chemical_symbols().count(el)
    assert m["forces_rmse_eV_A_by_element"][el] == pytest.approx(np.sqrt(2 * 0.09 / (2 * n_el * 3)))
    # virial: 3 of 9 components off by 810 meV / n per frame
    assert m["virial_rmse_meV_atom"] == pytest.approx(np.sqrt(3 / 9) * 810.0 / n)
    assert error_metrics(ref, ref)["energy_rmse_meV_atom"] == 0.0
    with pytest.raises(AnalysisError):
        error_metrics(ref, pred[:1])


def test_bad_references_and_files(liquid_nvp28, tmp_path):
    frames = select_frames([liquid_nvp28], 1, seed=6)
    for ref, fragment in (
        ("bmp", "cannot read reference"),
        ("gap:x", "unknown reference kind"),
        ("teacher:sevennet", "unknown teacher"),
        ("classical:nope", "unknown force field"),
    ):
        with pytest.raises(Exception, match=fragment):
            label_frames(frames, ref, tmp_path)
    with pytest.raises(InputFileError, match="no such file"):
        read_dataset(tmp_path / "missing.extxyz")
    from ase.io import write

    write(tmp_path / "bare.extxyz", frames[0])
    with pytest.raises(InputFileError, match="lacks energy"):
        read_dataset(tmp_path / "bare.extxyz")
    with pytest.raises(AnalysisError, match="empty"):
        write_dataset([], tmp_path / "x.extxyz")
    with pytest.raises(AnalysisError, match="no frames"):
        label_frames([], "classical:bmp", tmp_path)


def test_teacher_labels_name_the_teacher_or_say_what_is_missing(liquid_nvp28, tmp_path, monkeypatch):
    """A teacher labels with its own name in every frame (never passed off as DFT); without
    its package the error says which package."""
    import importlib.util
    import sys

    frames = select_frames([liquid_nvp28], 1, seed=8)
    if importlib.util.find_spec("chgnet") is not None:
        labelled = label_frames(frames, "teacher:chgnet", tmp_path)
        assert labelled[0].info["reference"] == "teacher:chgnet"
        assert np.isfinite(labelled[0].info["energy"]) and np.abs(labelled[0].arrays["forces"]).max() > 0
    for name in [m for m in sys.modules if m == "chgnet" or m.startswith("chgnet.")] + ["chgnet"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(AnalysisError, match="needs its package"):
        label_frames(frames, "teacher:chgnet", tmp_path)
