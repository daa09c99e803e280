"""The CP2K layer: input generation checked by CP2K itself, parsers on committed real
output (tests/data/cp2k, made by make_cp2k_data.py), and live runs of tiny vanadium
molecules. Tests that run CP2K skip only where CP2K is absent (CI installs it)."""

from __future__ import annotations

import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from vitreous.analysis.electronic import valence_from_spin, wannier_bonds
from vitreous.engines.cp2k import CP2KRun, DFTSettings, check_input, load_dft_settings, spin_state, write_input
from vitreous.engines.cp2k_parse import (
    forces_sum_printed,
    parse_output,
    read_input_cell,
    read_md_frames,
    read_wannier,
    scf_lines,
    training_frames,
)
from vitreous.errors import EngineError
from vitreous.io import read_structure

DATA = Path(__file__).parent / "data" / "cp2k"
sys.path.insert(0, str(DATA))
from molecules import in_box, vanadyl_v4, vanadyl_v5  # noqa: E402

needs_cp2k = pytest.mark.skipif(
    shutil.which("cp2k.psmp") is None and shutil.which("cp2k") is None,
    reason="CP2K not installed (apt-get install cp2k; .ci/run installs it)",
)


def test_spin_state_from_valence(nvp28_small):
    s = load_dft_settings("pbe-dzvp-uks")
    charge, mult, electrons = spin_state(nvp28_small, s)
    n_v4 = int(np.sum(nvp28_small.arrays["valence"] == 4))
    assert charge == 0 and mult == n_v4 + 1 and (electrons - (mult - 1)) % 2 == 0
    assert spin_state(vanadyl_v4(), s)[1] == 2 and spin_state(vanadyl_v5(), s)[1] == 1
    bs = load_dft_settings("pbe-dzvp-uks", broken_symmetry=True)
    assert spin_state(nvp28_small, bs)[1] == n_v4 % 2 + 1
    bad = vanadyl_v4()
    bad.arrays["valence"][0] = 5  # V5+ with this formula: charge +1, 32 electrons, multiplicity 1: consistent
    assert spin_state(bad, s)[:2] == (1, 1)
    with pytest.raises(EngineError, match="multiplicity"):
        spin_state(vanadyl_v4(), DFTSettings(multiplicity=1))
    with pytest.raises(EngineError, match="hubbard_u_V_eV"):
        DFTSettings(hubbard_u_V_eV=-1.0)


@needs_cp2k
@pytest.mark.parametrize("preset", ["pbe-dzvp-uks", "pbe-dzvp-uks-smear", "pbe-szv-fast"])
def test_every_preset_parses_in_cp2k(preset, tmp_path, nvp28_small):
    s = load_dft_settings(preset)
    for run_type in ("single-point", "optimize", "md"):
        check_input(write_input(nvp28_small, s, run_type, wannier=True, spin_populations=True), tmp_path)
    check_input(write_input(vanadyl_v5(), s, "single-point"), tmp_path)  # non-periodic
    bs = load_dft_settings(preset, broken_symmetry=True, dispersion_d3=True, hubbard_u_V_eV=3.0)
    text = write_input(nvp28_small, bs, "md")
    assert text.count("U_MINUS_J [eV] 3") == 2  # both V kinds (V and V_dn) carry +U
    check_input(text, tmp_path)  # resume is tested live below
    n_v4 = int(np.sum(nvp28_small.arrays["valence"] == 4))
    for broken in (False, True):
        guess = load_dft_settings(preset, v4_spin_guess=True, broken_symmetry=broken)
        text = write_input(nvp28_small, guess, "single-point")
        up, dn = text.count(" V_up "), text.count(" V_dn ")  # coordinate lines of V4+ sites
        assert (up, dn) == (((n_v4 + 1) // 2, n_v4 // 2) if broken else (n_v4, 0))
        assert text.count("NEL +1") == 1 + broken and text.count("NEL -1") == 1 + broken
        check_input(text, tmp_path)


@needs_cp2k
def test_cp2k_rejects_a_broken_input(tmp_path):
    with pytest.raises(EngineError, match="rejects"):
        check_input("&GLOBAL\n  RUN_TYPE NOPE\n&END GLOBAL\n", tmp_path)


def test_parsers_on_committed_real_output():
    atoms = read_structure(DATA / "v5_sp" / "structure.extxyz")
    res = parse_output(DATA / "v5_sp" / "cp2k-0.out", DATA / "v5_sp", atoms)
    assert res["energy_eV"] < 0 and res["forces_eV_A"].shape == (len(atoms), 3)
    # the parsed forces add up to CP2K's own printed sum (its egg-box error at 280 Ry is
    # ~0.5 eV/Å here; we check the parser, not the grid)
    np.testing.assert_allclose(
        res["forces_eV_A"].sum(axis=0), forces_sum_printed(DATA / "v5_sp" / "cp2k-0.out"), atol=2e-4
    )
    assert len(res["scf_steps"]) >= 1
    assert "mulliken_spin" in res and np.abs(res["mulliken_spin"]).max() < 0.05  # closed shell V5+
    frames, _ = read_wannier(DATA / "v5_sp" / "wannier.xyz")
    assert len(frames) == 2  # one per spin channel
    assert all(len(f) == 20 for f in frames)  # 40 valence electrons (GTH): 20 per spin
    v4 = read_structure(DATA / "v4_sp" / "structure.extxyz")
    r4 = parse_output(DATA / "v4_sp" / "cp2k-0.out", DATA / "v4_sp", v4)
    assert valence_from_spin(r4["hirshfeld_spin"], v4.get_chemical_symbols()) == {0: 4}
    assert r4["hirshfeld_spin"][0] > 0.5 and r4["mulliken_spin"][0] > 0.5
    tf = training_frames([res], [atoms])
    assert tf[0].info["energy"] == res["energy_eV"] and tf[0].arrays["forces"].shape == (len(atoms), 3)


def _vanadyl_wannier(folder):
    atoms = read_structure(folder / "structure.extxyz")
    centres, ions = read_wannier(folder / "wannier.xyz")
    cell = read_input_cell(sorted(folder.glob("cp2k-*.inp"))[-1])
    shift = (ions - atoms.positions) @ np.linalg.inv(cell)  # CP2K may shift and wrap the molecule
    shift -= np.round(shift - shift[0])
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-5)  # same molecule
    atoms.positions = ions  # the frame of the centres (CP2K's box)
    atoms.set_cell(cell)
    return atoms, centres


def _check_vanadyl_bonds(atoms, centres):
    """OV(OH)3 at its CP2K-optimised geometry: every O holds 4 centres per spin (8 valence
    electrons); the vanadyl O has 3 per spin on the V side (σ + 2π: 6 shared, double), each
    hydroxyl O 2 per spin (σ plus its π-donating lone pair: 4 shared, single)."""
    res = wannier_bonds(atoms, centres)
    assert res.unassigned == 0
    assert res.owned[0] == 8  # V: 3s3p semicore of the GTH q13 pseudopotential, 4 per spin
    assert res.owned[1] == 8  # vanadyl O: 4 pairs per spin
    for o, h in ((2, 5), (3, 6), (4, 7)):  # hydroxyl: O–H bond centres sit nearer H
        assert res.owned[o] + res.owned.get(h, 0) == 8
    by_o = {b["atoms"][1]: b for b in res.bonds}
    assert by_o[1]["n_centres"] == 6 and by_o[1]["order"] == "double"
    assert [by_o[o]["n_centres"] for o in (2, 3, 4)] == [4, 4, 4]
    assert all(by_o[o]["order"] == "single" for o in (2, 3, 4))
    v = res.vanadium[0]
    assert (v["n_double"], v["n_single"], v["n_V"]) == (1, 3, 4)
    assert res.lone_pairs[1] == 2  # the vanadyl O's lone pair, opposite V, one per spin
    assert res.bond_lengths["double"]["mean_A"] < res.bond_lengths["single"]["min_A"]  # V=O is the short one
    # the literal "more than two centres" rule also calls the V–OH bonds double
    literal = wannier_bonds(atoms, centres, double_min_centres=3)
    assert literal.vanadium[0]["n_double"] == 4
    return res


def test_wannier_analysis_of_the_vanadyl_molecule():
    atoms, centres = _vanadyl_wannier(DATA / "v5_sp")
    res = _check_vanadyl_bonds(atoms, centres)
    assert res.vanadium[0]["valence_bvs"] == 5 and res.vanadium[0]["valence_formal"] == 5


@pytest.mark.parametrize("name", ["v5_built_sp", "v5_rattled_1", "v5_rattled_2"])
def test_wannier_bond_orders_do_not_need_a_relaxed_geometry(name):
    """CP2K centres of OV(OH)3 at its built geometry (table bond lengths: the hydroxyl lone
    pairs lean towards V, 80-82° from the V–O axis) and rattled by 0.07 Å (thermal-like):
    still one V=O and three V–OH. The former axis-distance rule called every bond of the
    built molecule double."""
    atoms, centres = _vanadyl_wannier(DATA / name)
    res = wannier_bonds(atoms, centres)
    assert res.unassigned == 0 and res.owned[1] == 8
    by_o = {b["atoms"][1]: b for b in res.bonds}
    assert by_o[1]["order"] == "double" and by_o[1]["n_centres"] == 6
    assert all(by_o[o]["order"] == "single" and by_o[o]["n_centres"] == 4 for o in (2, 3, 4))
    assert res.criteria["centre_histogram"]["V-O"] == {"6": 1, "4": 3}
    # every shared centre sits well inside the cone; the lone pairs well outside
    assert max(a for b in res.bonds for a in b["centre_angles_deg"]) < 50


def test_wannier_bond_orders_of_a_strongly_distorted_snapshot():
    """A rattle that shortens one V–OH to 1.55 Å and stretches V=O to 1.63 Å: the vanadyl's
    third centre per spin moves to 60° from the axis (0.35 Å from O, between bond-like
    0.4-0.5 Å and lone-pair-like 0.2-0.3 Å) and counts as a lone pair. Reported as it is:
    no double bond in this snapshot, no V–OH called double, the angles in the result."""
    atoms, centres = _vanadyl_wannier(DATA / "v5_rattled_3")
    res = wannier_bonds(atoms, centres)
    by_o = {b["atoms"][1]: b for b in res.bonds}
    assert [by_o[o]["order"] for o in (1, 2, 3, 4)] == ["single"] * 4
    assert res.lone_pairs[1] == 4
    # a wider cone (65°) takes the 60° centre: the vanadyl is double again, the V–OH single
    wide = {b["atoms"][1]: b["order"] for b in wannier_bonds(atoms, centres, cone_deg=65).bonds}
    assert wide == {1: "double", 2: "single", 3: "single", 4: "single"}
    with pytest.raises(Exception, match="cone_deg"):
        wannier_bonds(atoms, centres, cone_deg=95)


def test_optimised_geometry_is_read_back():
    from vitreous.engines.cp2k_parse import read_optimized

    start = in_box(vanadyl_v5())
    final, converged = read_optimized(DATA / "v5_opt" / "cp2k-0.out", DATA / "v5_opt", start)
    assert converged
    np.testing.assert_allclose(
        final.positions, read_structure(DATA / "v5_opt" / "optimized.extxyz").positions, atol=1e-6
    )
    assert final.get_chemical_symbols() == start.get_chemical_symbols()
    np.testing.assert_array_equal(final.arrays["valence"], start.arrays["valence"])
    # the built molecule's 155° V–O–H angles relax towards a bent hydroxyl
    assert all(final.get_angle(0, o, h) < 150 for o, h in ((2, 5), (3, 6), (4, 7)))
    with pytest.raises(Exception, match="no optimisation trajectory"):
        read_optimized(DATA / "v5_sp" / "cp2k-0.out", DATA / "v5_sp", start)


def test_scf_steps_add_up_over_outer_loops():
    """Each SCF's step count (inner steps of all outer loops) equals the SCF lines CP2K printed."""
    for out in (DATA / "v5_opt" / "cp2k-0.out", DATA / "v4_sp" / "cp2k-0.out", DATA / "v5_sp" / "cp2k-0.out"):
        text = out.read_text()
        steps = parse_output(out, out.parent, read_structure(DATA / "v5_sp" / "structure.extxyz"))["scf_steps"]
        rows = scf_lines(text)
        assert sum(steps) == len(rows), out
        # every printed SCF line, by a plain count of its method column
        assert len(rows) == len(re.findall(r"^\s+\d+ OT (?:DIIS|SD|CG|LS)", text, re.M)), out
        assert all(r["energy_Ha"] < 0 and r["time_s"] > 0 for r in rows)
    assert len(parse_output(DATA / "v5_opt" / "cp2k-0.out", DATA / "v5_opt", in_box(vanadyl_v5()))["scf_steps"]) > 5


@needs_cp2k
def test_live_wannier_bonds_of_the_optimised_vanadyl(tmp_path):
    """CP2K run here on the committed optimised OV(OH)3, then the bond analysis."""
    atoms = read_structure(DATA / "v5_opt" / "optimized.extxyz")
    CP2KRun(atoms, load_dft_settings("pbe-szv-fast"), "single-point", tmp_path, ranks=2, wannier=True).run(
        timeout_s=600
    )
    from vitreous.io import write_structure

    write_structure(atoms, tmp_path / "structure.extxyz")
    _check_vanadyl_bonds(*_vanadyl_wannier(tmp_path))


@needs_cp2k
def test_live_v4_spin_localises_on_vanadium(tmp_path):
    atoms = in_box(vanadyl_v4())
    res = CP2KRun(
        atoms, load_dft_settings("pbe-szv-fast"), "single-point", tmp_path, ranks=2, spin_populations=True
    ).run(timeout_s=600)
    spin = res["mulliken_spin"]
    assert spin[0] > 0.6 and abs(spin.sum() - 1.0) < 0.05  # one unpaired electron, mostly on V
    assert valence_from_spin(spin, atoms.get_chemical_symbols()) == {0: 4}
    # the same molecule started from 3 smearing (Broyden) steps and a V4+ spin guess: OT
    # restarts from those orbitals and lands in the same state
    s = load_dft_settings("pbe-szv-fast", smear_start_scf=3, v4_spin_guess=True)
    again = CP2KRun(atoms, s, "single-point", tmp_path / "start", ranks=2, spin_populations=True).run(timeout_s=600)
    start_out = (tmp_path / "start" / "start" / "cp2k-0.out").read_text()
    assert [r["method"] for r in scf_lines(start_out)] == ["NoMix/Diag.", "Broy./Diag.", "Broy./Diag."]
    assert "RUN_TYPE ENERGY\n" in (tmp_path / "start" / "start" / "cp2k-0.inp").read_text()
    main_out = Path(again["input"]).with_suffix(".out").read_text()
    assert re.search(r"Density guess:\s+RESTART", main_out)
    assert abs(again["energy_eV"] - res["energy_eV"]) < 2e-3
    # a rerun in the same folder (e.g. after a killed main run) reuses the finished start
    said: list[str] = []
    CP2KRun(atoms, s, "single-point", tmp_path / "start", ranks=2).run(progress=said.append, timeout_s=600)
    assert any("reusing" in m for m in said) and not (tmp_path / "start" / "start" / "cp2k-1.out").exists()
    np.testing.assert_allclose(again["mulliken_spin"], spin, atol=0.02)
    with pytest.raises(EngineError, match="smear_start_scf"):
        DFTSettings(smear_start_scf=-1)


@needs_cp2k
def test_live_md_two_steps_then_resume(tmp_path):
    atoms = in_box(vanadyl_v5())
    s = load_dft_settings("pbe-szv-fast")
    first = CP2KRun(atoms, s, "md", tmp_path, ranks=2, steps=1, timestep_fs=0.5, temperature_K=300).run(timeout_s=600)
    assert not first["resumed"]
    again = CP2KRun(atoms, s, "md", tmp_path, ranks=2, steps=2, timestep_fs=0.5, temperature_K=300).run(timeout_s=600)
    assert again["resumed"]
    frames = read_md_frames(tmp_path, atoms)
    steps = [f.info["step"] for f in frames]
    assert steps == sorted(set(steps)) and steps[-1] == 2  # continued, no duplicated step
    assert frames[-1].arrays["forces"].shape == (len(atoms), 3)
    from vitreous.engines.cp2k_parse import bomd_to_h5md
    from vitreous.io.h5md import H5MDTrajectory

    with H5MDTrajectory(bomd_to_h5md(tmp_path, atoms, tmp_path / "bomd.h5")) as traj:
        assert len(traj) == len(frames) and list(traj.steps) == steps
        np.testing.assert_allclose(traj.times_ps, [0.0, 0.0005, 0.001])


@needs_cp2k
def test_unconverged_scf_is_an_error(tmp_path):
    s = load_dft_settings("pbe-szv-fast", max_scf=2, outer_max_scf=1, eps_scf=1e-10)
    with pytest.raises(EngineError, match="SCF did not converge"):
        CP2KRun(in_box(vanadyl_v5()), s, "single-point", tmp_path, ranks=2).run(timeout_s=600)


def test_cli_analyze_electronic_on_committed_output(tmp_path):
    import json

    from typer.testing import CliRunner

    from vitreous.cli.main import app

    out = tmp_path / "el.json"
    res = CliRunner().invoke(app, ["analyze", "electronic", str(DATA / "v5_sp"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert {"bonds", "vanadium"} <= set(d)
    b = d["bonds"][0]
    assert {"atoms", "pair", "length_A", "n_centres", "order"} <= set(b)
    v = d["vanadium"][0]
    assert {"index", "n_double", "n_single", "spin_moment", "valence_from_spin"} <= set(v)
    assert v["valence_from_spin"] == 5 and v["n_double"] >= 1
    from vitreous.analysis.electronic import ElectronicResult

    assert ElectronicResult.from_dict(d).to_dict() == d  # round trip through JSON
    bad = CliRunner().invoke(app, ["analyze", "electronic", str(tmp_path), "-o", str(out)])
    assert bad.exit_code == 2 and "no finished CP2K run" in bad.output


@needs_cp2k
def test_cli_dft_bad_input(tmp_path):
    from typer.testing import CliRunner

    from vitreous.cli.main import app

    r = CliRunner().invoke(app, ["dft", "single-point", str(tmp_path / "none.xyz"), "-o", str(tmp_path / "r")])
    assert r.exit_code == 2 and "no such file" in r.output
    s = tmp_path / "m.extxyz"
    from vitreous.io import write_structure

    write_structure(vanadyl_v4(), s)
    r = CliRunner().invoke(app, ["dft", "single-point", str(s), "-o", str(tmp_path / "r"), "--settings", "nope"])
    assert r.exit_code == 2 and "unknown DFT settings" in r.output


def _centres_about(o, toward, n, angle_deg, r=0.35, rng=None):
    """``n`` centres r Å from ``o`` at ``angle_deg`` from the o→toward axis (evenly around it)."""
    u = (toward - o) / np.linalg.norm(toward - o)
    a = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(u, a)
    th = np.radians(angle_deg)
    return [
        o + r * (np.cos(th) * u + np.sin(th) * (np.cos(p) * a + np.sin(p) * b))
        for p in 2 * np.pi * np.arange(n) / max(n, 1)
    ]


def test_wannier_bonds_on_hand_placed_centres():
    """A periodic cell across whose boundary a V=O, a V–O–P bridge and a V–O single bond lie,
    with centres placed by hand per spin: orders, lone pairs, BO/NBO, lengths, valences."""
    from ase import Atoms

    L = 10.0
    v = np.array([0.2, 5.0, 5.0])  # near the x = 0 face: bonds cross the boundary
    o_yl = v + [0, 0, 1.60]
    o_br = v + [-1.80, 0, 0]  # wraps to x ≈ 8.4
    p = o_br + [-1.55, 0, 0]
    o_s = v + [0, 1.95, 0]
    atoms = Atoms("VOOPO", positions=[v, o_yl, o_br, p, o_s], cell=[L] * 3, pbc=True)
    atoms.wrap()
    atoms.set_array("valence", np.array([5, -2, -2, 5, -2]))
    pos = atoms.positions
    near = lambda x, y: y + (((x - y) / L + 0.5) % 1 - 0.5) * L  # noqa: E731  (image of x nearest y)
    per_spin = []
    per_spin += _centres_about(pos[1], near(pos[0], pos[1]), 3, 45)  # vanadyl: 3 on the V side
    per_spin += _centres_about(pos[1], 2 * pos[1] - near(pos[0], pos[1]), 1, 0)  # its lone pair
    per_spin += _centres_about(pos[2], near(pos[0], pos[2]), 1, 10)  # bridge: σ to V
    per_spin += _centres_about(pos[2], near(pos[3], pos[2]), 1, 10)  # σ to P
    per_spin += _centres_about(pos[2], pos[2] + [0, 0, 1], 2, 30)  # 2 lone pairs, ⟂ both bonds
    per_spin += _centres_about(pos[4], near(pos[0], pos[4]), 1, 5)  # single V–O
    per_spin += _centres_about(pos[4], 2 * pos[4] - near(pos[0], pos[4]), 3, 70)  # 3 lone pairs
    centres = [np.array(per_spin) % L, np.array(per_spin) % L]  # two spin channels, wrapped
    res = wannier_bonds(atoms, centres, spin=np.array([0.01, 0, 0, 0, 0]))
    order = {b["atoms"][1]: (b["n_centres"], b["order"]) for b in res.bonds}
    assert order == {1: (6, "double"), 2: (2, "single"), 4: (2, "single")}
    assert res.lone_pairs == {1: 2, 2: 4, 4: 6} and res.unassigned == 0
    assert res.vanadium[0]["n_double"] == 1 and res.vanadium[0]["n_single"] == 2 and res.vanadium[0]["n_V"] == 3
    assert res.vanadium[0]["valence_from_spin"] == 5 and res.vanadium[0]["valence_formal"] == 5
    # oxygen: vanadyl and single-bonded O are NBO, the V–O–P bridge is BO
    assert res.oxygen["former_bonds"] == {"1": 1, "2": 2, "4": 1}
    assert res.oxygen["BO"] == pytest.approx(1 / 3) and res.oxygen["NBO"] == pytest.approx(2 / 3)
    lengths = res.bond_lengths
    assert lengths["double"]["lengths_A"] == pytest.approx([1.60])
    assert lengths["single"]["lengths_A"] == pytest.approx([1.80, 1.95])
    # bond valence by hand (Brown–Altermatt): Σ exp((R0 − r)/b) over the three O
    from vitreous.analysis.network import bond_valence_parameters

    b, r0, _ = bond_valence_parameters()
    bvs5 = sum(np.exp((r0[("V", 5)] - r) / b) for r in (1.60, 1.80, 1.95))
    bvs4 = sum(np.exp((r0[("V", 4)] - r) / b) for r in (1.60, 1.80, 1.95))
    best = 4 if abs(bvs4 - 4) < abs(bvs5 - 5) else 5
    assert res.vanadium[0]["valence_bvs"] == best
    assert res.vanadium[0]["bvs"] == pytest.approx(bvs5 if best == 5 else bvs4)
    assert set(res.agreement) == {"spin_vs_formal", "spin_vs_bvs", "bvs_vs_formal"}
    assert res.agreement["spin_vs_formal"] == 1.0
    with pytest.raises(Exception, match="no Wannier centres"):
        wannier_bonds(atoms, np.zeros((0, 3)))


@needs_cp2k
def test_cli_dft_optimize_writes_the_final_structure(tmp_path):
    """Two BFGS steps: the CLI writes optimized.extxyz and warns that the optimisation stopped
    at its step limit."""
    from typer.testing import CliRunner

    from vitreous.cli.main import app
    from vitreous.io import write_structure

    s = tmp_path / "m.extxyz"
    write_structure(in_box(vanadyl_v5()), s)
    r = CliRunner().invoke(
        app, ["dft", "optimize", str(s), "-o", str(tmp_path / "opt"), "--settings", "pbe-szv-fast", "--steps", "2"]
    )
    assert r.exit_code == 0, r.output
    assert "stopped at its step limit" in r.output
    # progress streamed from the growing CP2K log: SCF steps and BFGS steps, each once
    assert "SCF step 1: E = " in r.output and r.output.count("OPTIMIZATION STEP: 1\n") == 1
    final = read_structure(tmp_path / "opt" / "optimized.extxyz")
    assert final.get_chemical_symbols() == vanadyl_v5().get_chemical_symbols()
    assert not np.allclose(final.positions, in_box(vanadyl_v5()).positions, atol=1e-4)  # it moved


@needs_cp2k
def test_cli_dft_melt_quench_segments_chain_wavefunctions(tmp_path):
    """f-BOMD as two one-step segments: the second starts its SCF from the first's
    wavefunction (not the atomic guess) and its final structure; a rerun skips both."""
    from typer.testing import CliRunner

    from vitreous.cli.main import app
    from vitreous.io import write_structure

    s = tmp_path / "m.extxyz"
    write_structure(in_box(vanadyl_v5()), s)
    args = [
        "dft",
        "melt-quench",
        str(s),
        "-o",
        str(tmp_path / "mq"),
        "--settings",
        "pbe-szv-fast",
        "--segments",
        "2",
        "--steps-per-segment",
        "1",
        "--t-melt-K",
        "1000",
        "--t-final-K",
        "300",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    first, second = sorted((tmp_path / "mq").glob("segment-*"))
    assert "SCF_GUESS ATOMIC" in (first / "cp2k-0.inp").read_text()
    assert "SCF_GUESS RESTART" in (second / "cp2k-0.inp").read_text() and (second / "guess-RESTART.wfn").is_file()
    end_of_first = read_md_frames(first, vanadyl_v5())[-1]
    start_of_second = read_md_frames(second, vanadyl_v5())[0]
    np.testing.assert_allclose(start_of_second.positions, end_of_first.positions, atol=1e-6)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "segment 1/2" not in again.output
    with pytest.raises(EngineError, match="not found"):
        CP2KRun(
            vanadyl_v5(),
            load_dft_settings("pbe-szv-fast"),
            "single-point",
            tmp_path / "x",
            guess_wfn=tmp_path / "missing.wfn",
        ).run()


def test_wannier_bonds_in_a_glass_cell_with_leaning_lone_pairs(relaxed_nvp28):
    """A classical NVP28 glass cell (405 atoms, thermal disorder) with centres placed per
    spin: one σ centre per V–O/P–O bond (0.42 Å from O, 30° off the axis) and the O's
    other pairs as lone pairs 0.3 Å from O, each leaning 75° from its nearest V–O bond
    (as in a thermal snapshot), none within the cone of any bond. Every bond is single;
    the former axis-distance rule took the leaning lone pairs and made NBO bonds double."""
    atoms = relaxed_nvp28.copy()
    res0 = wannier_bonds(atoms, np.zeros((1, 3)) + 100.0)  # candidate bonds only (no centres)
    bonds_of = {}
    for b in res0.bonds:
        bonds_of.setdefault(b["atoms"][1], []).append(b["atoms"][0])
    pos, cell = atoms.positions, atoms.cell.array

    def axis(o, c):
        d = pos[c] - pos[o]
        f = d @ np.linalg.inv(cell)
        d = (f - np.round(f)) @ cell
        return d / np.linalg.norm(d)

    rng = np.random.default_rng(0)
    per_spin, expected_lone = [], 0
    for o, cations in bonds_of.items():
        axes = [axis(o, c) for c in cations]
        for e in axes:
            per_spin += _centres_about(pos[o], pos[o] + e, 1, 30, r=0.42)
        v_axes = [e for e, c in zip(axes, cations, strict=True) if atoms.symbols[c] == "V"]
        for _ in range(max(0, 4 - len(axes))):
            for _try in range(200):  # a leaning direction outside every bond's cone
                ref = v_axes[0] if v_axes else axes[0]
                x = _centres_about(pos[o], pos[o] + ref, 1, 75, r=0.30)[0]
                x = pos[o] + _rotate_about(x - pos[o], ref, rng.uniform(0, 2 * np.pi))
                u = (x - pos[o]) / 0.30
                if all(np.degrees(np.arccos(np.clip(u @ e, -1, 1))) > 60 for e in axes):
                    per_spin.append(x)
                    expected_lone += 1
                    break
    c = np.array(per_spin)
    res = wannier_bonds(atoms, [c, c])
    assert {b["n_centres"] for b in res.bonds} == {2}
    assert all(b["order"] == "single" for b in res.bonds)
    assert sum(res.lone_pairs.values()) == 2 * expected_lone and expected_lone > 100
    assert res.criteria["centre_histogram"]["V-O"] == {"2": sum(b["pair"] == "V-O" for b in res.bonds)}


def _rotate_about(v, k, angle):
    """Rodrigues rotation of v about the unit axis k."""
    return v * np.cos(angle) + np.cross(k, v) * np.sin(angle) + k * (k @ v) * (1 - np.cos(angle))


@needs_cp2k
def test_bomd_on_the_md_driver_with_cp2k_forces(tmp_path):
    """CP2K as an ASE calculator (cp2k --shell, vitreous' own input) under the MD driver: the
    start structure's energy and forces equal the committed CP2KRun single point of the same
    input (the SCF converges to 1e-5 Ha: 1e-3 eV), and a 3-step NVT protocol writes the
    usual H5MD frames and summary, the reference named as DFT (CP2K)."""
    from vitreous.engines.factory import dft_md
    from vitreous.io.h5md import H5MDTrajectory
    from vitreous.protocols import Protocol, Stage

    atoms = read_structure(DATA / "v5_sp" / "structure.extxyz")
    ref = parse_output(DATA / "v5_sp" / "cp2k-0.out", DATA / "v5_sp", atoms)
    settings = load_dft_settings("pbe-szv-fast")
    stage = Stage(
        "nvt", "nvt", 3, timestep_fs=0.5, t_start_K=300.0, trajectory_every=1, thermo_every=1, checkpoint_every=2
    )
    run = dft_md(atoms, settings, Protocol("bomd", (stage,)), tmp_path / "md", seed=2, threads=2)
    (tmp_path / "md").mkdir()
    run.backend.open(run.atoms, tmp_path / "md", None, stage, 2)
    energy, forces = run.backend.single_point()  # the shell stays up for the run below
    assert energy == pytest.approx(ref["energy_eV"], abs=1e-3)
    np.testing.assert_allclose(forces, ref["forces_eV_A"], atol=1e-3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 3 steps cannot hold a temperature: the driver may say so
            res = run.run(progress=False)
    finally:
        run.backend.calculator.close()
    with H5MDTrajectory(res.trajectory) as traj:
        assert list(traj.steps) == [1, 2, 3] and traj.metadata["engine"] == "ase"
        obs = traj.observables()
    assert np.all(np.isfinite(obs["potential_energy"])) and abs(obs["potential_energy"][0] - energy) < 1.0
    assert res.summary["potential"]["reference"] == "DFT (CP2K)"
    assert res.summary["potential"]["settings"]["name"] == "pbe-szv-fast"
