"""Protocols: validation, recipes and TOML round trips."""

from __future__ import annotations

import pytest

from vitreous.errors import InputFileError, ProtocolError
from vitreous.protocols import Protocol, Stage, diffusion, melt_quench, tg_scan


def test_melt_quench_schedule():
    p = melt_quench(3000, 10, 100, 300, 5, relax_ps=2)
    assert [s.name for s in p.stages] == ["relax", "melt", "quench", "anneal"]
    quench = p.stages[2]
    assert (quench.t_start_K, quench.t_end_K) == (3000, 300)
    assert quench.duration_ps == pytest.approx(27.0)  # (3000 - 300) K / 100 K/ps
    assert p.duration_ps == pytest.approx(2 + 10 + 27 + 5)
    assert p.stages[0].ensemble == "limit"
    npt = melt_quench(ensemble="npt", pressure_GPa=0.5)
    assert all(s.pressure_GPa == 0.5 for s in npt.stages[1:])


def test_tg_scan_and_diffusion():
    p = tg_scan(1500, 300, 100, 2.0)
    temps = [s.t_start_K for s in p.stages]
    assert temps[0] == 1500 and temps[-1] == 300 and len(temps) == 13
    assert all(s.ensemble == "npt" for s in p.stages)
    runs = diffusion([900, 1200], equilibrate_ps=1, production_ps=5)
    assert [r.name for r in runs] == ["diffusion-900K", "diffusion-1200K"]
    assert runs[1].stages[1].trajectory_every > 0 and runs[1].stages[1].duration_ps == pytest.approx(5)


def test_toml_round_trip(tmp_path):
    p = melt_quench(2500, 3, 200, 300, 1, ensemble="npt")
    path = tmp_path / "p.toml"
    p.to_toml(path)
    assert Protocol.from_toml(path) == p


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(ensemble="nph", steps=10, t_start_K=300), "unknown ensemble"),
        (dict(ensemble="nvt", steps=0, t_start_K=300), "positive integer"),
        (dict(ensemble="nvt", steps=10), "needs t_start_K"),
        (dict(ensemble="npt", steps=10, t_start_K=300), "needs pressure"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, pressure_GPa=1.0), "only for npt"),
        (dict(ensemble="nvt", steps=10, t_start_K=-5), "positive"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, timestep_fs=50), "timestep"),
    ],
)
def test_bad_stages(kwargs, fragment):
    with pytest.raises(ProtocolError, match=fragment):
        Stage(name="s", **kwargs)


def test_bad_protocol_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[stages]]\nname = "a"\nensemble = "nvt"\nsteps = 10\nt_start_K = 300\nfoo = 1\n')
    with pytest.raises(ProtocolError, match="unknown key"):
        Protocol.from_toml(bad)
    bad.write_text("name = [")
    with pytest.raises(ProtocolError, match="TOML"):
        Protocol.from_toml(bad)
    with pytest.raises(InputFileError):
        Protocol.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ProtocolError, match="below the melt"):
        melt_quench(1000, 1, 100, 1500, 1)
