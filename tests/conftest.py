"""Shared fixtures."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset


@pytest.fixture(scope="session")
def nvp28_small():
    """A 405-atom NVP28 random model (seed 7)."""
    preset = get_preset("NVP28")
    return random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=7)


@pytest.fixture(scope="session")
def relaxed_nvp28(tmp_path_factory, nvp28_small):
    """The 405-atom NVP28 model after a short displacement-limited relaxation and NVT at
    1000 K with BMP + DSF (a start that does not blow up)."""
    from vitreous.engines.lammps import LammpsMD, LammpsSettings
    from vitreous.potentials import Coulomb, load_forcefield
    from vitreous.protocols import Protocol, Stage

    proto = Protocol(
        "relax",
        (
            Stage("limit", "limit", 400, t_start_K=1000.0, checkpoint_every=400),
            Stage("nvt", "nvt", 400, t_start_K=1000.0, checkpoint_every=400),
        ),
    )
    run = LammpsMD(
        nvp28_small,
        load_forcefield("bmp"),
        proto,
        tmp_path_factory.mktemp("relax"),
        seed=1,
        settings=LammpsSettings(coulomb=Coulomb("dsf")),
    ).run(progress=False)
    return run.final_atoms


@pytest.fixture(scope="session")
def liquid_nvp28(tmp_path_factory, relaxed_nvp28):
    """H5MD trajectory of the 405-atom NVP28 liquid at 2000 K: 24 frames 40 fs apart."""
    from vitreous.engines.lammps import LammpsMD, LammpsSettings
    from vitreous.potentials import Coulomb, load_forcefield
    from vitreous.protocols import Protocol, Stage

    proto = Protocol(
        "liquid",
        (
            Stage("eq", "nvt", 300, t_start_K=2000.0, checkpoint_every=300),
            Stage("prod", "nvt", 960, t_start_K=2000.0, trajectory_every=40, thermo_every=40, checkpoint_every=960),
        ),
    )
    run = LammpsMD(
        relaxed_nvp28,
        load_forcefield("bmp"),
        proto,
        tmp_path_factory.mktemp("liquid"),
        seed=2,
        settings=LammpsSettings(coulomb=Coulomb("dsf")),
    ).run(progress=False)
    return run.trajectory


def _kill_at(cmd, run, step):
    """Start ``cmd``, wait until the run in ``run`` has checkpointed past ``step``, then kill
    it with SIGKILL; fails if the run finished before it could be killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for a checkpoint past the start, then kill hard
        ck = run / "checkpoint.json"
        if ck.is_file() and json.loads(ck.read_text())["step"] >= step:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run finished before it could be killed"


@pytest.fixture
def kill_at():
    """:func:`_kill_at`: kill -9 an MD command once it has checkpointed past a step."""
    return _kill_at
