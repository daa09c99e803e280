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
    names = available_forcefields()
    assert {"pmmcs", "bmp", "pmmcs+bmp-v"} <= set(names)
    for name in names:
        ff = load_forcefield(name)
        assert ff.name == name and ff.reference
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
