"""Protocols: validation, recipes and TOML round trips."""

from __future__ import annotations

import numpy as np
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
    # the fixed-volume anneal is a Langevin bath (it holds its T in a BMP glass)
    assert (p.stages[3].ensemble, p.stages[3].thermostat_damping_fs) == ("langevin", 5.0)
    assert [s.ensemble for s in p.stages[1:3]] == ["nvt", "nvt"]
    # melt and quench: one chainless Nosé–Hoover thermostat per element (each element's mean
    # T held while BMP heats the network); NPT has one thermostat, chainless
    assert all(s.thermostat_per_element and s.thermostat_chain == 1 for s in p.stages[1:3])
    npt = melt_quench(ensemble="npt", pressure_GPa=0.5)
    assert all(s.pressure_GPa == 0.5 for s in npt.stages[1:])
    assert npt.stages[3].ensemble == "npt"
    assert not any(s.thermostat_per_element for s in npt.stages)
    assert all(s.thermostat_chain == 1 for s in npt.stages[1:3])


def test_tg_scan_and_diffusion():
    p = tg_scan(1500, 300, 100, 2.0)
    temps = [s.t_start_K for s in p.stages]
    assert temps[0] == 1500 and temps[-1] == 300 and len(temps) == 13
    assert all(s.ensemble == "npt" for s in p.stages)
    runs = diffusion([900, 1200], equilibrate_ps=1, production_ps=5)
    assert [r.name for r in runs] == ["diffusion-900K", "diffusion-1200K"]
    assert runs[1].stages[1].trajectory_every > 0 and runs[1].stages[1].duration_ps == pytest.approx(5)
    # diffusion: one chainless Nosé–Hoover thermostat per element, so the Na ions are at the label's T
    assert all(s.thermostat_per_element and s.thermostat_chain == 1 for r in runs for s in r.stages)
    # thermo rows every 10 steps: a stage's mean T resolved to a fraction of a per cent
    assert all(s.thermo_every == 10 for r in runs for s in r.stages)


def test_tg_cooling_ramps_at_the_stated_rate():
    from vitreous.protocols import tg_cooling

    p = tg_cooling(2000, 500, 50.0, equilibrate_ps=2.0, timestep_fs=2.0)
    eq, cool = p.stages
    assert (eq.ensemble, cool.ensemble) == ("npt", "npt")
    assert eq.t_start_K == eq.t_end_K == 2000 and eq.duration_ps == pytest.approx(2.0)
    assert (cool.t_start_K, cool.t_end_K) == (2000, 500)
    assert (cool.t_start_K - cool.t_end_K) / cool.duration_ps == pytest.approx(50.0)  # K/ps
    assert p.stage_bounds() == [(0, 1000), (1000, 16000)]
    for bad in ((500, 2000, 50.0), (2000, 500, 0.0), (2000, 500, float("nan"))):
        with pytest.raises(ProtocolError):
            tg_cooling(*bad)


def test_cooling_averages_follow_the_ramp():
    """Synthetic observables of a 2000 → 500 K ramp: window means of T and V recover the
    bilinear V(T) the fit sees."""
    from vitreous.analysis.thermal import cooling_averages, fit_tg
    from vitreous.protocols import tg_cooling

    p = tg_cooling(2000, 500, 100.0, equilibrate_ps=1.0)
    first, last = p.stage_bounds()[1]
    steps = np.arange(0, last + 1, 10)
    frac = np.clip((steps - first) / (last - first), 0, 1)
    temp = 2000 - 1500 * frac
    vol = 5000 + 0.1 * (temp - 900) + 0.3 * np.maximum(0, temp - 900)
    obs = {"step": steps, "temperature": temp, "volume": vol}
    t, v = cooling_averages(obs, p.to_dict()["stages"][1], first, 50.0, "volume")
    assert len(t) == 30 and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(t), 50.0, rtol=0.05)
    assert fit_tg(t, v).Tg_K == pytest.approx(900, abs=15)


def test_toml_round_trip(tmp_path):
    p = melt_quench(2500, 3, 200, 300, 1, ensemble="npt")
    path = tmp_path / "p.toml"
    p.to_toml(path)
    assert Protocol.from_toml(path) == p
    q = Protocol("q", (Stage("a", "nvt", 10, t_start_K=300.0, thermostat_exclude=("Na",)),))
    q.to_toml(path)
    assert Protocol.from_toml(path) == q and Protocol.from_toml(path).stages[0].thermostat_exclude == ("Na",)


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
        (dict(ensemble="npt", steps=10, t_start_K=300, pressure_GPa=0.0, thermostat_exclude=["Na"]), "only for nvt"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_exclude="Na"), "list of element symbols"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_exclude=[]), "list of element symbols"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_chain=0), "thermostat_chain"),
        (dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_chain=2.5), "thermostat_chain"),
        (dict(ensemble="npt", steps=10, t_start_K=300, pressure_GPa=0.0, thermostat_per_element=True), "only for nvt"),
        (dict(ensemble="langevin", steps=10, t_start_K=300, thermostat_per_element=True), "only for nvt"),
        (
            dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_per_element=True, thermostat_exclude=["Na"]),
            "cannot be combined",
        ),
        (dict(ensemble="nvt", steps=10, t_start_K=300, thermostat_per_element="yes"), "true or false"),
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
