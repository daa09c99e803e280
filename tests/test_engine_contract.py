"""The engine contract: the same protocol on LAMMPS and on ASE (the classical force field
through LammpsCalculator) gives the same forces, conserves energy, resumes after kill -9,
fails loudly on a blow-up, and writes the same H5MD layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from vitreous.engines.factory import ENGINES, classical_md
from vitreous.engines.lammps import LammpsSettings
from vitreous.errors import EngineError
from vitreous.io import write_structure
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage

DSF = LammpsSettings(coulomb=Coulomb("dsf"), threads=1)


@pytest.mark.parametrize("name", ["bmp", "pmmcs+bmp-v"])
def test_same_energy_and_forces_at_step_0(relaxed_nvp28, tmp_path, name):
    """Energy and forces of the start structure from both backends, PPPM (a triclinic-free
    cell; both go through LAMMPS, so they must agree to round-off)."""
    ff = load_forcefield(name)
    settings = LammpsSettings(coulomb=Coulomb("pppm", accuracy=1e-6), threads=1)
    stage = Stage("a", "nve", 10)
    out = {}
    for engine in ENGINES:
        run = classical_md(relaxed_nvp28, ff, Protocol("p", (stage,)), tmp_path / engine, 1, settings, engine)
        (tmp_path / engine).mkdir()
        run.backend.open(run.atoms, tmp_path / engine, None, stage, 1)
        try:
            out[engine] = run.backend.single_point()
        finally:
            run.backend.close()
    (e_l, f_l), (e_a, f_a) = out["lammps"], out["ase"]
    assert e_a == pytest.approx(e_l, rel=1e-6)
    assert np.abs(f_a - f_l).max() <= 1e-6 * np.abs(f_l).max()


def test_nve_same_trajectory_and_bounded_drift(relaxed_nvp28, tmp_path):
    """NVE from rest, 0.5 fs, pmmcs+bmp-v (no three-body truncation), DSF: both engines
    follow the same trajectory (velocity Verlet on the same forces) and conserve energy to
    below 2e-4 eV/atom/ps over 0.3 ps."""
    ff = load_forcefield("pmmcs+bmp-v")
    proto = Protocol(
        "nve", (Stage("nve", "nve", 600, timestep_fs=0.5, thermo_every=20, trajectory_every=100, checkpoint_every=600),)
    )
    trajs = {}
    for engine in ENGINES:
        res = classical_md(relaxed_nvp28, ff, proto, tmp_path / engine, 2, DSF, engine).run(progress=False)
        with H5MDTrajectory(res.trajectory) as traj:
            obs = traj.observables()
            trajs[engine] = traj.positions(slice(0, len(traj)))
        e = obs["potential_energy"] + obs["kinetic_energy"]
        slope = np.polyfit(obs["time_ps"], e, 1)[0] / len(relaxed_nvp28)
        assert abs(slope) < 2e-4, (engine, slope)
        assert obs["temperature"].mean() > 300  # it moves: the relaxed start is hot in energy
    # chaos amplifies round-off, but 0.3 ps from the same state stays far below 1e-3 Å
    assert np.abs(trajs["lammps"] - trajs["ase"]).max() < 1e-3


def test_thermostats_hold_on_ase(relaxed_nvp28, tmp_path):
    """NVT on the ASE engine (Nosé–Hoover chain, CSVR, Langevin) holds 1000 K within 3 %
    over 0.6 ps of 405 atoms (canonical sd of the mean over ~6 independent blocks: ~1 %)."""
    ff = load_forcefield("pmmcs+bmp-v")
    for thermostat, ensemble in (("nose-hoover", "nvt"), ("csvr", "nvt"), ("nose-hoover", "langevin")):
        stage = Stage(
            "hold",
            ensemble,
            800,
            t_start_K=1000.0,
            thermostat=thermostat,
            thermostat_damping_fs=25.0,
            thermo_every=10,
            checkpoint_every=800,
        )
        res = classical_md(
            relaxed_nvp28, ff, Protocol("h", (stage,)), tmp_path / f"{ensemble}-{thermostat}", 3, DSF, "ase"
        ).run(progress=False)
        row = res.summary["stages"][0]
        assert abs(row["mean_T_K"] - 1000.0) < 30.0, (thermostat, ensemble, row)


def _md_cmd(structure, out, ensemble, steps, engine):
    return [
        sys.executable,
        "-m",
        "vitreous.cli",
        "md",
        str(structure),
        "-o",
        str(out),
        "--temperature-K",
        "800",
        "--ensemble",
        ensemble,
        "--steps",
        str(steps),
        "--trajectory-every",
        "50",
        "--checkpoint-every",
        "200",
        "--coulomb",
        "dsf",
        "--seed",
        "9",
        "--threads",
        "1",
        "--engine",
        engine,
        "--potential",
        "pmmcs+bmp-v",
    ]


@pytest.mark.parametrize(("engine", "ensemble"), [(e, s) for e in ENGINES for s in ("nvt", "langevin")])
def test_kill_and_resume_matches_uninterrupted(relaxed_nvp28, tmp_path, kill_at, engine, ensemble):
    """kill -9 mid-run, rerun: the same frame steps on both engines. The Nosé–Hoover chain
    continues the same trajectory (its state travels in the restart: positions within
    1e-4 Å); ASE's Langevin does too (the generator state travels with it); LAMMPS' Langevin
    restarts its random stream, so there only the statistics agree (mean T of the second half
    within 5 %, i.e. several standard errors of 405 atoms over 0.5 ps)."""
    structure = tmp_path / "start.extxyz"
    write_structure(relaxed_nvp28, structure)
    steps = 1000 if engine == "ase" else 2000
    ref = subprocess.run(_md_cmd(structure, tmp_path / "ref", ensemble, steps, engine), capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "killed"
    kill_at(_md_cmd(structure, run, ensemble, steps, engine), run, steps // 2 - 200)
    again = subprocess.run(_md_cmd(structure, run, ensemble, steps, engine), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with H5MDTrajectory(tmp_path / "ref" / "trajectory.h5") as a, H5MDTrajectory(run / "trajectory.h5") as b:
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_array_equal(np.diff(b.steps), 50)
        obs_a, obs_b = a.observables(), b.observables()
        np.testing.assert_array_equal(obs_a["step"], obs_b["step"])
        if engine == "lammps" and ensemble == "langevin":
            half = len(obs_a["temperature"]) // 2
            t_a, t_b = obs_a["temperature"][half:].mean(), obs_b["temperature"][half:].mean()
            assert abs(t_a - t_b) < 0.05 * 800, (t_a, t_b)
        else:
            np.testing.assert_allclose(a.positions(slice(-1, None)), b.positions(slice(-1, None)), atol=1e-4)
    assert json.loads((run / "summary.json").read_text())["resumed"] is True


@pytest.mark.parametrize("engine", ENGINES)
def test_blow_up_fails_loudly_on_both_engines(nvp28_small, tmp_path, engine):
    """A random start thrown straight into NVT at 3000 K with a 5 fs step: the failure names
    the stage and step on either engine, and the frames written before it stay readable."""
    out = dict(trajectory_every=10, thermo_every=10, checkpoint_every=10)
    proto = Protocol(
        "bad",
        (
            Stage("calm", "limit", 20, t_start_K=1000.0, **out),
            Stage("hot", "nvt", 1000, timestep_fs=5.0, t_start_K=3000, **out),
        ),
    )
    with pytest.raises(EngineError, match=r"stage 'hot' (at|near) step \d+"):
        classical_md(nvp28_small, load_forcefield("bmp"), proto, tmp_path, 1, DSF, engine).run(progress=False)
    with H5MDTrajectory(tmp_path / "trajectory.h5") as traj:
        assert len(traj) >= 2 and np.all(np.diff(traj.steps) == 10)
        assert np.isfinite(traj.positions(slice(len(traj) - 1, len(traj)))).all()


def _layout(path):
    names = {}

    def visit(name, obj):
        names[name] = sorted(obj.attrs.keys())

    with h5py.File(path, "r") as fh:
        fh.visititems(visit)
    return names


def test_same_h5md_layout_and_metadata(relaxed_nvp28, tmp_path):
    """The H5MD files of both engines have the same groups, datasets, attributes and
    metadata keys; the summaries the same keys and stage statistics."""
    ff = load_forcefield("pmmcs+bmp-v")
    proto = Protocol(
        "p",
        (
            Stage(
                "a",
                "nvt",
                100,
                t_start_K=600.0,
                trajectory_every=50,
                thermo_every=25,
                checkpoint_every=50,
                velocities=True,
            ),
        ),
    )
    files, summaries, meta = {}, {}, {}
    for engine in ENGINES:
        res = classical_md(relaxed_nvp28, ff, proto, tmp_path / engine, 1, DSF, engine).run(progress=False)
        files[engine] = _layout(res.trajectory)
        summaries[engine] = res.summary
        with H5MDTrajectory(res.trajectory) as traj:
            meta[engine] = traj.metadata
            assert len(traj) == 2 and list(traj.steps) == [50, 100]
    assert files["lammps"] == files["ase"]
    assert set(meta["lammps"]) == set(meta["ase"])
    assert meta["lammps"]["engine"] == "lammps" and meta["ase"]["engine"] == "ase"
    common = {
        "status",
        "inputs_hash",
        "engine",
        "protocol",
        "seed",
        "n_atoms",
        "species_labels",
        "frames",
        "simulated_ps",
        "wall_time_s",
        "resumed",
        "stages",
        "final",
        "versions",
    }
    assert common <= set(summaries["lammps"]) and common <= set(summaries["ase"])
    assert [s["name"] for s in summaries["lammps"]["stages"]] == [s["name"] for s in summaries["ase"]["stages"]]


def test_unknown_engine_and_unsupported_stage(relaxed_nvp28, tmp_path):
    ff = load_forcefield("pmmcs+bmp-v")
    proto = Protocol("p", (Stage("a", "nvt", 10, t_start_K=600.0),))
    with pytest.raises(EngineError, match="unknown engine"):
        classical_md(relaxed_nvp28, ff, proto, tmp_path, 1, DSF, "gromacs")  # type: ignore[arg-type]
    ramp = Protocol("p", (Stage("a", "npt", 10, t_start_K=600.0, t_end_K=500.0, pressure_GPa=0.0),))
    with pytest.raises(EngineError, match="no NPT temperature ramp"):
        classical_md(relaxed_nvp28, ff, ramp, tmp_path / "r", 1, DSF, "ase").run(progress=False)
    assert os.path.isdir(tmp_path / "r")


def test_a_calculator_without_stress_reports_no_pressure(relaxed_nvp28, tmp_path):
    """A calculator that gives no stress: NVT runs, and its pressure is written as unknown
    (NaN), not as the kinetic part alone; NPT is refused with a clear error."""
    from vitreous.engines.ase_md import AseBackend
    from vitreous.engines.driver import MDRun
    from vitreous.engines.lammps_calculator import LammpsCalculator

    class NoStress(LammpsCalculator):
        implemented_properties = ("energy", "free_energy", "forces")

    ff = load_forcefield("pmmcs+bmp-v")
    nvt = Protocol("p", (Stage("a", "nvt", 40, t_start_K=600.0, thermo_every=10, checkpoint_every=40),))
    calc = NoStress(ff, Coulomb("dsf"), workdir=tmp_path / "calc")
    res = MDRun(relaxed_nvp28, AseBackend(calc), nvt, tmp_path / "nvt", 1, ff.name).run(progress=False)
    with H5MDTrajectory(res.trajectory) as traj:
        obs = traj.observables()
    assert np.all(np.isnan(obs["pressure"])) and np.all(np.isfinite(obs["temperature"]))
    npt = Protocol("q", (Stage("a", "npt", 20, t_start_K=600.0, pressure_GPa=0.0, checkpoint_every=20),))
    with pytest.raises(EngineError, match="needs the stress"):
        MDRun(relaxed_nvp28, AseBackend(calc), npt, tmp_path / "npt", 1, ff.name).run(progress=False)


@pytest.mark.parametrize("name", ["bmp", "pmmcs+bmp-v"])
def test_lammps_calculator_stress_is_the_strain_derivative(relaxed_nvp28, tmp_path, name):
    """σ_ij = (1/V) ∂E/∂ε_ij by central differences, off-diagonals included (the stress once
    came back as zeros, and a tilt below ASE's skew tolerance was dropped from the data file:
    h = 1e-4 tilts by ~2e-3 Å, below that tolerance). LAMMPS energies carry ~1e-7 eV of
    summation-order noise between boxes, hence 0.5 %."""
    from vitreous.engines.lammps_calculator import LammpsCalculator

    calc = LammpsCalculator(load_forcefield(name), Coulomb("dsf"), workdir=tmp_path)
    a = relaxed_nvp28.copy()
    a.calc = calc
    s = a.get_stress(voigt=False)
    assert np.abs(s).max() > 1e-4  # not the zeros of the old bug
    h, v = 1e-4, a.get_volume()
    for i, j in ((0, 0), (1, 1), (0, 1), (0, 2), (1, 2)):
        es = []
        for sign in (1, -1):
            b = relaxed_nvp28.copy()
            b.calc = calc
            eps = np.eye(3)
            eps[i, j] += sign * h
            b.set_cell(b.cell.array @ eps, scale_atoms=True)
            es.append(b.get_potential_energy())
        assert s[i, j] == pytest.approx((es[0] - es[1]) / (2 * h) / v, rel=5e-3, abs=2e-6), (i, j)
