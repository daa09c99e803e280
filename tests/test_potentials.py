"""Force-field data and their LAMMPS form, checked against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from vitreous.composition import Species
from vitreous.engines.lammps_runtime import energy_forces
from vitreous.errors import PotentialError
from vitreous.potentials import Coulomb, available_forcefields, load_forcefield
from vitreous.species import type_map

COULOMB_EV_A = 14.399645  # e²/(4πε0) in eV·Å (CODATA), as in LAMMPS metal units


def _lammps_energy_forces(atoms, commands, tmp_path):
    return energy_forces(atoms, commands, tmp_path)


def test_all_sets_load_and_are_named():
    from vitreous.potentials import Potential

    names = available_forcefields()
    assert {"pmmcs", "bmp", "pmmcs+bmp-v", "bmp-smooth"} <= set(names)
    for name in names:
        ff = load_forcefield(name)
        assert ff.name == name and ff.reference
        assert isinstance(ff, Potential) and ff.describe()["reference"] == ff.reference
        # charges are 0.6 x formal in these Pedone-type sets
        for s, q in ff.charges.items():
            assert q == pytest.approx(0.6 * s.valence)


def test_missing_species_are_named():
    ff = load_forcefield("pmmcs")
    with pytest.raises(PotentialError, match=r"V\+5 – O-2"):
        ff.check_covers([Species("V", 5), Species("O", -2), Species("Na", 1)])
    with pytest.raises(PotentialError, match="unknown force field"):
        load_forcefield("nope")


def test_sets_are_not_silently_mixed():
    bmp, mix = load_forcefield("bmp"), load_forcefield("pmmcs+bmp-v")
    po = {
        ff.name: next(p for p in ff.pedone if {p.a_species.element, p.b_species.element} == {"P", "O"})
        for ff in (bmp, mix)
    }
    assert po["bmp"].r0 == pytest.approx(1.790790) and po["pmmcs+bmp-v"].r0 == pytest.approx(1.800790)
    assert bmp.three_body and not mix.three_body


def test_three_ions_equal_hand_computation(tmp_path):
    """Na–O–Na (neutral) in a large box: Ewald → bare Coulomb, plus the Pedone terms."""
    ff = load_forcefield("bmp")
    r = 2.35
    atoms = Atoms(
        "NaONa",
        positions=[[30 - r, 30, 30], [30, 30, 30], [30 + r, 30, 30]],
        cell=[60] * 3,
        pbc=True,
    )
    atoms.set_array("valence", np.array([1, -2, 1]))
    species, _, _ = type_map(atoms)
    cmds = ff.lammps_commands(species, Coulomb("ewald", cutoff_A=25.0, accuracy=1e-10), tmp_path)
    e, f = _lammps_energy_forces(atoms, cmds, tmp_path)
    na_o = next(p for p in ff.pedone if Species("Na", 1) in (p.a_species, p.b_species))
    q_na, q_o = 0.6, -1.2
    e_hand = 2 * (COULOMB_EV_A * q_na * q_o / r + na_o.energy(r)) + COULOMB_EV_A * q_na**2 / (2 * r)
    # the images of this quadrupole at 60 Å change the energy by far less than 1e-4 eV
    assert e == pytest.approx(e_hand, abs=1e-4)
    # force on the right Na: -dU/dx from a central difference of the hand formula
    h = 1e-5

    def u(x):
        return COULOMB_EV_A * q_na * q_o / x + na_o.energy(x) + COULOMB_EV_A * q_na**2 / (x + r)

    assert f[2, 0] == pytest.approx(-(u(r + h) - u(r - h)) / (2 * h), abs=1e-3)
    assert np.abs(f.sum(axis=0)).max() < 1e-6  # Newton's third law


def test_short_range_of_a_crystal_equals_direct_sum(tmp_path):
    """A rock-salt NaO-like lattice (charges off): LAMMPS pedone energy and forces equal a
    direct sum of the functional form over ASE neighbour pairs."""
    from ase.build import bulk

    ff = load_forcefield("pmmcs")
    atoms = bulk("NaCl", "rocksalt", a=4.6, cubic=True).repeat(2)
    atoms.set_chemical_symbols(["Na" if s == "Na" else "O" for s in atoms.get_chemical_symbols()])
    rng = np.random.default_rng(0)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    atoms.set_array("valence", np.where(np.array(atoms.get_chemical_symbols()) == "Na", 1, -2))
    species, _, _ = type_map(atoms)
    index = {s: i + 1 for i, s in enumerate(species)}
    rc = ff.short_range_cutoff_A
    cmds = [f"pair_style pedone {rc}"]
    terms = {}
    for p in ff.pedone:
        if p.a_species in index and p.b_species in index:
            i, j = sorted((index[p.a_species], index[p.b_species]))
            cmds.append(f"pair_coeff {i} {j} {p.D} {p.a} {p.r0} {p.C}")
            terms[frozenset((p.a_species.element, p.b_species.element))] = p
    cmds.append("pair_coeff 1 1 0 1 1 0")  # Na–Na: no short-range term
    e, f = _lammps_energy_forces(atoms, cmds, tmp_path)

    i, j, d, D = neighbor_list("ijdD", atoms, cutoff=rc)
    sym = np.array(atoms.get_chemical_symbols())
    e_hand = 0.0
    f_hand = np.zeros_like(atoms.positions)
    for a, b, r, vec in zip(i, j, d, D, strict=True):
        p = terms.get(frozenset((sym[a], sym[b])))
        if p is None:
            continue
        e_hand += 0.5 * p.energy(r)
        ex = math.exp(-p.a * (r - p.r0))
        dudr = 2 * p.D * p.a * ex * (1 - ex) - 12 * p.C / r**13
        f_hand[a] += dudr * vec / r  # pulls a toward b when dU/dr > 0
    assert e == pytest.approx(e_hand, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(f, f_hand, atol=1e-8)


def test_three_body_equals_hand_computation(tmp_path):
    """One V–O–P angle: E = K (θ − θ0)² exp(−r1/ρ − r2/ρ) with the BMP parameters."""
    ff = load_forcefield("bmp")
    theta = math.radians(100.0)
    atoms = Atoms(
        "OVP",
        positions=[[20, 20, 20], [21.7, 20, 20], [20 + 1.7 * math.cos(theta), 20 + 1.7 * math.sin(theta), 20]],
        cell=[40] * 3,
        pbc=True,
    )
    atoms.set_array("valence", np.array([-2, 5, 5]))
    species, _, _ = type_map(atoms)
    cmds = [c for c in ff.lammps_commands(species, Coulomb("dsf"), tmp_path) if "nb3b" in c and "*" in c]
    cmds = ["pair_style nb3b/screened", cmds[0].replace("nb3b/screened ", "")]
    e, _ = _lammps_energy_forces(atoms, cmds, tmp_path)
    t = next(t for t in ff.three_body if {t.j, t.k} == {"V", "P"})
    assert e == pytest.approx(t.K * (theta - math.radians(t.theta0)) ** 2 * math.exp(-1.7 / t.rho * 2), rel=1e-9)


def test_bad_coulomb():
    with pytest.raises(PotentialError):
        Coulomb("wolf")  # type: ignore[arg-type]
    with pytest.raises(PotentialError):
        Coulomb("pppm", accuracy=2.0)


def _three_body_only(ff, atoms, tmp_path):
    species, _, _ = type_map(atoms)
    cmds = [c for c in ff.lammps_commands(species, Coulomb("dsf"), tmp_path) if "sw/angle/table" in c and "*" in c]
    return _lammps_energy_forces(atoms, ["pair_style sw/angle/table", cmds[0].replace("sw/angle/table ", "")], tmp_path)


def _ovp(r_vo, r_po, theta_deg):
    th = math.radians(theta_deg)
    atoms = Atoms(
        "OVP",
        positions=[[20, 20, 20], [20 + r_vo, 20, 20], [20 + r_po * math.cos(th), 20 + r_po * math.sin(th), 20]],
        cell=[40] * 3,
        pbc=True,
    )
    atoms.set_array("valence", np.array([-2, 5, 5]))
    return atoms


def test_smooth_three_body_equals_hand_computation(tmp_path):
    """bmp-smooth, one V–O–P angle: E = K (θ − θ0)² s_OV(r1) s_OP(r2) with the Stillinger–Weber
    factor s(r) = exp(γσ/(r − r_c))/c written out here from its definition (value and slope of
    exp(−r/ρ) at r_m), and equal to BMP's term at r1 = r2 = r_m."""
    ff = load_forcefield("bmp-smooth")
    bmp = load_forcefield("bmp")
    t = next(t for t in bmp.three_body if {t.j, t.k} == {"V", "P"})

    def s(r, r_m, r_c, rho=1.0):
        gs = (r_c - r_m) ** 2 / rho  # d/dr [gs/(r − r_c)] = −1/ρ at r_m
        return math.exp(gs / (r - r_c)) / math.exp(gs / (r_m - r_c) + r_m / rho)

    for r_vo, r_po, deg in ((1.775, 1.525, 100.0), (2.2, 1.6, 140.0), (1.65, 1.45, 170.0)):
        e, _ = _three_body_only(ff, _ovp(r_vo, r_po, deg), tmp_path)
        hand = t.K * math.radians(deg - t.theta0) ** 2 * s(r_vo, 1.775, 2.5) * s(r_po, 1.525, 2.0)
        assert e == pytest.approx(hand, rel=1e-4)  # linear table in θ, 0.1° spacing
    e, _ = _three_body_only(ff, _ovp(1.775, 1.525, 130.0), tmp_path)
    assert e == pytest.approx(t.K * math.radians(130.0 - t.theta0) ** 2 * math.exp(-1.775 - 1.525), rel=1e-4)


def test_smooth_three_body_forces_are_the_energy_gradient_and_vanish_at_the_cutoff(tmp_path):
    """Forces against central differences of the energy, and energy → 0 continuously as the
    V–O distance reaches BMP's 2.5 Å cutoff (BMP itself jumps by > 0.05 eV there)."""
    ff = load_forcefield("bmp-smooth")
    atoms = _ovp(2.1, 1.55, 135.0)
    atoms.positions[2] += [0.03, -0.02, 0.11]
    _, f = _three_body_only(ff, atoms, tmp_path)
    h = 1e-4
    for a in range(3):
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, x] += h
            minus.positions[a, x] -= h
            numeric = -(_three_body_only(ff, plus, tmp_path)[0] - _three_body_only(ff, minus, tmp_path)[0]) / (2 * h)
            assert f[a, x] == pytest.approx(numeric, abs=2e-5 + 1e-3 * abs(numeric))
    energies = [_three_body_only(ff, _ovp(r, 1.55, 140.0), tmp_path)[0] for r in (2.3, 2.45, 2.499, 2.501)]
    assert energies[0] > energies[1] > energies[2] > 0
    assert energies[2] < 1e-12 and energies[3] == 0.0


def test_a_variant_without_a_taper_for_a_pair_is_refused(tmp_path):
    path = tmp_path / "half.toml"
    path.write_text(
        'name = "half"\nbase = "bmp"\nreference = "test"\n'
        '[[three_body_taper]]\npair = ["O-2", "P+5"]\nmatch_r_A = 1.5\n'
    )
    ff = load_forcefield(str(path))
    with pytest.raises(PotentialError, match="O-V has no taper"):
        _three_body_only(ff, _ovp(2.0, 1.5, 120.0), tmp_path)
    path.write_text('name = "bad"\nbase = "nonexistent"\nreference = "t"\n')
    with pytest.raises(PotentialError, match="malformed"):
        load_forcefield(str(path))
