"""Shared set-up for benchmarks: NVP28 models relaxed briefly so that MD is stable."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ase import Atoms

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage


def relaxed_nvp28(n_atoms: int, seed: int = 1, temperature_K: float = 1500.0) -> Atoms:
    """Random NVP28 model after 300 displacement-limited + 300 NVT steps (BMP, DSF)."""
    preset = get_preset("NVP28")
    atoms = random_glass(counts(preset.composition, n_atoms), preset.density_g_cm3, seed=seed)
    proto = Protocol(
        "relax",
        (
            Stage("limit", "limit", 300, t_start_K=temperature_K, checkpoint_every=300),
            Stage("nvt", "nvt", 300, t_start_K=temperature_K, checkpoint_every=300),
        ),
    )
    run_dir = Path(tempfile.mkdtemp(prefix="vitreous-bench-"))
    res = LammpsMD(
        atoms, load_forcefield("bmp"), proto, run_dir, seed=seed, settings=LammpsSettings(coulomb=Coulomb("dsf"))
    ).run(progress=False)
    return res.final_atoms
