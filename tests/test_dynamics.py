"""Ion dynamics, conductivity, Arrhenius, percolation and Tg: analytic cases, synthetic
data with known answers, a kinisi cross-check, and bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ase import Atoms
from typer.testing import CliRunner

from vitreous.analysis.arrhenius import fit_arrhenius
from vitreous.analysis.channels import percolation
from vitreous.analysis.dynamics import (
    SubdiffusiveWarning,
    analyze_dynamics,
    fit_diffusion,
    msd_direct,
    msd_fft,
    msd_per_atom,
    nernst_einstein_S_cm,
)
from vitreous.analysis.thermal import fit_tg
from vitreous.cli.main import app
from vitreous.errors import AnalysisError
from vitreous.io.trajectory import FrameTrajectory

K_B = 1.380649e-23  # J/K (exact, SI 2019)
E = 1.602176634e-19  # C (exact, SI 2019)


def random_walk(d_A2_ps=0.5, n_walkers=100, n_frames=400, dt_ps=0.1, seed=0, n_frame_atoms=60, drift=(0, 0, 0)):
    """Na random walkers with known D among immobile heavy 'framework' atoms (P)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=np.sqrt(2 * d_A2_ps * dt_ps), size=(n_frames, n_walkers, 3))
    steps[0] = 0
    walkers = rng.random((n_walkers, 3)) * 30 + np.cumsum(steps, axis=0)
    fixed = np.broadcast_to(rng.random((n_frame_atoms, 3)) * 30, (n_frames, n_frame_atoms, 3))
    pos = np.concatenate([walkers, fixed], axis=1) + np.arange(n_frames)[:, None, None] * dt_ps * np.array(drift)
    frames = []
    for k in range(n_frames):
        a = Atoms(f"Na{n_walkers}P{n_frame_atoms}", positions=pos[k], cell=[30] * 3, pbc=True)
        a.info["time_ps"] = k * dt_ps
        frames.append(a)
    return FrameTrajectory(frames)


def test_fft_msd_equals_direct():
    x = np.random.default_rng(1).normal(size=(300, 7, 3)).cumsum(axis=0)
    np.testing.assert_allclose(msd_fft(x), msd_direct(x), rtol=1e-9, atol=1e-9)


def test_ballistic_msd_is_t_squared():
    t = np.arange(50) * 0.1
    v = np.array([1.0, -2.0, 0.5])
    x = (t[:, None] * v)[:, None, :]
    np.testing.assert_allclose(msd_fft(x)[:, 0], (v @ v) * t**2, rtol=1e-9, atol=1e-9)


def test_centre_of_mass_drift_is_removed():
    plain = random_walk(seed=3)
    drifting = random_walk(seed=3, drift=(2.0, -1.0, 0.5))  # Å/ps for every atom
    ions = np.arange(100)
    _, a, _ = msd_per_atom(plain, ions)
    _, b, drift = msd_per_atom(drifting, ions)
    np.testing.assert_allclose(a, b, atol=1e-8)
    # the removed drift is the imposed one (v·t over 39.9 ps) up to the walkers' own COM motion
    np.testing.assert_allclose(drift[-1], np.array([2.0, -1.0, 0.5]) * 39.9, atol=1.0)


def test_random_walk_recovers_D_with_honest_uncertainty():
    true = 0.5
    d, err = [], []
    for seed in range(40):
        traj = random_walk(true, n_frames=200, seed=seed)
        t, msd, _ = msd_per_atom(traj, np.arange(100))
        fit = fit_diffusion(t, msd.sum(axis=2))
        d.append(fit.D_A2_ps)
        err.append(fit.D_err_A2_ps)
    d, err = np.array(d), np.array(err)
    coverage = np.mean(np.abs(d - true) < 1.96 * err)
    # 40 seeds: the binomial 95 % range of a true 95 % coverage is ~0.85–1.0
    assert 0.85 <= coverage <= 1.0, coverage
    # the stated error is neither absurdly small nor large against the scatter over seeds
    assert 0.6 < err.mean() / d.std(ddof=1) < 1.6


def test_subdiffusive_run_warns():
    rng = np.random.default_rng(0)
    cage = rng.random((60, 3)) * 30
    frames = []
    for k in range(100):  # atoms rattling in place: MSD plateaus
        a = Atoms("Na60", positions=cage + rng.normal(scale=0.3, size=(60, 3)), cell=[30] * 3, pbc=True)
        a.info["time_ps"] = 0.1 * k
        frames.append(a)
    traj = FrameTrajectory(frames)
    t, msd, _ = msd_per_atom(traj, np.arange(60))
    with pytest.warns(SubdiffusiveWarning):
        fit = fit_diffusion(t, msd.sum(axis=2))
    assert fit.subdiffusive


def test_nernst_einstein_units_by_hand():
    # N = 100 Na+, D = 1e-5 cm²/s, V = 1e4 Å³ = 1e-20 cm³, T = 1000 K:
    # σ = N e² D / (V k_B T) = 100 · e² · 1e-5 / (1e-20 · k_B · 1000) S/cm
    hand = 100 * E**2 * 1e-5 / (1e-20 * K_B * 1000)
    assert nernst_einstein_S_cm(100, 1.0, 1e-5, 1e4, 1000.0) == pytest.approx(hand, rel=1e-12)
    assert nernst_einstein_S_cm(100, 1.0, 1e-5, 1e4, 1000.0, haven_ratio=0.5) == pytest.approx(2 * hand)
    with pytest.raises(AnalysisError):
        nernst_einstein_S_cm(100, 1.0, 1e-5, 1e4, -5)


def test_non_uniform_frames_rejected():
    traj = random_walk(n_frames=20)
    traj._times[5] += 0.03
    with pytest.raises(AnalysisError, match="evenly spaced"):
        msd_per_atom(traj, np.arange(10))
    no_times = FrameTrajectory([traj[i] for i in range(20)])
    for f in no_times._frames:
        f.info.pop("time_ps")
    no_times = FrameTrajectory(no_times._frames)
    with pytest.raises(AnalysisError, match="frame interval"):
        msd_per_atom(no_times, np.arange(10))


def test_kinisi_agrees_on_the_same_trajectory():
    """kinisi (Bayesian, generalised least squares) and vitreous on one random walk: D
    agrees within the combined uncertainty."""
    kinisi_analyze = pytest.importorskip("kinisi.analyze")
    import scipp as sc

    true = 0.3
    traj = random_walk(true, n_walkers=80, n_frames=150, dt_ps=0.1, seed=11)
    res = analyze_dynamics(traj, "Na", temperature_K=1000.0, threshold_A2=1.0)
    frames = []
    for k in range(len(traj)):
        a = traj[k]
        a.wrap()
        frames.append(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da = kinisi_analyze.DiffusionAnalyzer.from_ase(
            frames, specie="Na", time_step=sc.scalar(0.1, unit="ps"), step_skip=sc.scalar(1), progress=False
        )
        da.diffusion(sc.scalar(1.0, unit="ps"), progress=False, random_state=np.random.RandomState(0))
    samples = sc.to_unit(da.D, "cm^2/s").values
    d_k, e_k = float(np.mean(samples)), float(np.std(samples))
    d_v, e_v = res.diffusion.D_cm2_s, res.diffusion.D_err_cm2_s
    assert abs(d_k - d_v) < 2 * np.hypot(e_k, e_v), (d_k, e_k, d_v, e_v)
    assert abs(d_v - true * 1e-4) < 3 * e_v


def test_arrhenius_recovers_activation_energy():
    rng = np.random.default_rng(2)
    t = np.array([900.0, 1000, 1100, 1200, 1400])
    ea, a = 0.6, 5e3
    sigma_true = a / t * np.exp(-ea / (8.617333262e-5 * t))
    sigma = sigma_true * np.exp(rng.normal(scale=0.05, size=t.size))
    fit = fit_arrhenius(t, sigma, 0.05 * sigma, form="sigma_T")
    assert abs(fit.Ea_eV - ea) < 3 * fit.Ea_err_eV and fit.Ea_err_eV < 0.1
    at = fit.predict(473.0)
    truth = a / 473 * np.exp(-ea / (8.617333262e-5 * 473))
    assert at["low"] < truth < at["high"]
    with pytest.raises(AnalysisError):
        fit_arrhenius([1000.0], [1e-3])
    with pytest.raises(AnalysisError):
        fit_arrhenius([1000.0, 1100.0], [1e-3, -1.0])


def test_tg_of_a_noisy_bilinear_curve():
    rng = np.random.default_rng(4)
    t = np.arange(300.0, 1501.0, 50.0)
    tg = 780.0
    v = 5000 + 0.05 * (t - tg) + 0.25 * np.maximum(0, t - tg) + rng.normal(scale=2.0, size=t.size)
    fit = fit_tg(t, v)
    assert fit.interval_K[0] <= tg <= fit.interval_K[1]
    assert abs(fit.Tg_K - tg) < 60 and fit.interval_K[1] - fit.interval_K[0] < 300
    with pytest.raises(AnalysisError, match="at least 6"):
        fit_tg(t[:4], v[:4])


def test_percolation_on_hand_made_lattices():
    cell = np.eye(3) * 10.0
    line = np.array([[x, 5.0, 5.0] for x in np.arange(0.5, 10, 2.0)])  # spans a through the boundary
    res = percolation(line, cell, 2.5)
    assert res.percolates and res.to_dict()["percolating_axes"] == ["a"] and res.largest_fraction == 1.0
    pair_across = np.array([[0.5, 5, 5], [9.5, 5, 5], [5, 5, 0.5], [5, 5, 2.0]])  # linked, but not spanning
    res = percolation(pair_across, cell, 1.6)
    assert not res.percolates and sorted(res.cluster_sizes) == [2, 2]
    isolated = np.array([[1, 1, 1], [5, 5, 5], [8, 2, 6]], dtype=float)
    res = percolation(isolated, cell, 2.0)
    assert not res.percolates and res.cluster_sizes == [1, 1, 1]
    cube = np.array(
        [[x, y, z] for x in np.arange(0.5, 10, 2.0) for y in np.arange(0.5, 10, 2.0) for z in np.arange(0.5, 10, 2.0)]
    )
    assert percolation(cube, cell, 2.1).to_dict()["percolating_axes"] == ["a", "b", "c"]
    from vitreous.analysis.channels import ChannelResult

    d = json.loads(json.dumps(res.to_dict()))
    assert ChannelResult.from_dict(d).to_dict() == d  # round trip through JSON
    with pytest.raises(AnalysisError, match="half the cell"):
        percolation(line, cell, 6.0)


def test_cli_dynamics_arrhenius_tg(tmp_path):
    runner = CliRunner()
    results = []
    for k, (temp, d) in enumerate([(900.0, 0.05), (1100.0, 0.15), (1300.0, 0.35)]):
        traj = random_walk(d, n_walkers=60, n_frames=120, seed=k)
        path = tmp_path / f"rw{k}.extxyz"
        import ase.io

        ase.io.write(path, [traj[i] for i in range(len(traj))])
        out = tmp_path / f"dyn{k}.json"
        res = runner.invoke(
            app,
            [
                "analyze",
                "dynamics",
                str(path),
                "--species",
                "Na",
                "--temperature-K",
                str(temp),
                "-o",
                str(out),
                "--threshold-A2",
                "2.0",
                "--plots",
                str(tmp_path / "p"),
            ],
        )
        assert res.exit_code == 0, res.output
        data = json.loads(out.read_text())
        for key in ("msd", "diffusion", "conductivity", "ions", "channels"):
            assert key in data
        assert {"t_ps", "msd_A2"} <= set(data["msd"]) and {"D_cm2_s", "D_err_cm2_s", "fit_window_ps"} <= set(
            data["diffusion"]
        )
        assert {"trapped_fraction", "mobile_fraction", "threshold_A2", "per_ion_msd_A2"} <= set(data["ions"])
        assert data["diffusion"]["D_cm2_s"] == pytest.approx(d * 1e-4, rel=0.25)
        # values: Nernst–Einstein from the fitted D by hand (N e² D / (V k_B T), 60 Na, 30 Å
        # box, H_R = 1); the collective σ of independent walkers: the same σ, except that the
        # fixed framework does not recoil, so removing the COM drift removes the fraction
        # f = N_Na m_Na / M of M = Σ q r: expected (1 − f)² σ_true. One collective run of 120
        # frames scatters by ~25 % (sd); these three seeds give 1.19, 0.61, 1.12 × expected.
        # A unit slip (a factor 6, 1e-8, kT) leaves this band; coverage is tested above
        c = data["conductivity"]
        hand = 60 * E**2 * data["diffusion"]["D_cm2_s"] / (30.0**3 * 1e-24 * K_B * temp)
        assert c["nernst_einstein_S_cm"] == pytest.approx(hand, rel=1e-9)
        f = 60 * 22.98977 / (60 * 22.98977 + 60 * 30.973762)
        truth = 60 * E**2 * d * 1e-4 / (30.0**3 * 1e-24 * K_B * temp) * (1 - f) ** 2
        assert 0.4 < c["collective_S_cm"] / truth < 2.5, (c["collective_S_cm"], truth)
        results.append(out)
    arr = tmp_path / "arr.json"
    res = runner.invoke(
        app,
        [
            "analyze",
            "arrhenius",
            *map(str, results),
            "-o",
            str(arr),
            "--at-K",
            "473",
            "--experiment",
            "473=3.3e-5",
            "--plots",
            str(tmp_path / "p"),
        ],
    )
    assert res.exit_code == 0, res.output
    a = json.loads(arr.read_text())
    # values: the three σ are Nernst–Einstein of D = 0.05, 0.15, 0.35 Å²/ps at 900-1300 K:
    # σT ∝ D, so Ea from the slope of ln(D) against 1/kT, by hand
    kt = 8.617333262e-5 * np.array([900.0, 1100.0, 1300.0])
    d_fit = np.array([json.loads(r.read_text())["diffusion"]["D_cm2_s"] for r in results])
    ea_hand = -np.polyfit(1 / kt, np.log(d_fit), 1)[0]
    assert a["Ea_eV"] == pytest.approx(ea_hand, rel=0.05)  # weighted vs unweighted fit of 3 points
    assert 0.0 < a["Ea_err_eV"] < 0.5 * a["Ea_eV"]
    at = a["sigma_at"]["473"]
    assert at["extrapolated"] is True and at["low"] < at["value"] < at["high"]
    assert (tmp_path / "p" / "arrhenius.png").is_file()
    scan = tmp_path / "scan.txt"
    t = np.arange(300.0, 1501.0, 100.0)
    scan.write_text("# T V\n" + "\n".join(f"{x} {5000 + 0.05 * x + 0.2 * max(0, x - 800)}" for x in t))
    tg_out = tmp_path / "tg.json"
    res = runner.invoke(app, ["analyze", "tg", str(scan), "-o", str(tg_out)])
    assert res.exit_code == 0, res.output
    tgd = json.loads(tg_out.read_text())
    assert tgd["Tg_K"] == pytest.approx(800, abs=30) and len(tgd["Tg_interval_K"]) == 2
    bad = [
        (["analyze", "dynamics", str(tmp_path / "nope.xyz"), "-o", str(tmp_path / "x.json")], "no such file"),
        (
            [
                "analyze",
                "dynamics",
                str(tmp_path / "rw0.extxyz"),
                "--species",
                "Li",
                "-o",
                str(tmp_path / "x.json"),
                "--temperature-K",
                "900",
            ],
            "no Li",
        ),
        (["analyze", "dynamics", str(tmp_path / "rw0.extxyz"), "-o", str(tmp_path / "x.json")], "temperature"),
        (["analyze", "arrhenius", str(results[0]), "-o", str(tmp_path / "x.json")], "two"),
        (["analyze", "arrhenius", str(scan), str(results[0]), "-o", str(tmp_path / "x.json")], "not a dynamics"),
        (
            ["analyze", "arrhenius", *map(str, results), "-o", str(tmp_path / "x.json"), "--experiment", "473"],
            "experiment point",
        ),
        (["analyze", "tg", str(scan), "-o", str(tmp_path / "x.json"), "--quantity", "entropy"], "unknown quantity"),
    ]
    for args, fragment in bad:
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and fragment in r.output, (args, r.output)


def test_tg_cooling_with_the_real_engine(relaxed_nvp28, tmp_path):
    """A (very fast) continuous NPT cooling through LAMMPS, then Tg from the H5MD file: the
    result carries the rate, the windows follow the ramp, enthalpy rises with T on both
    sides of the break at least as fast as its kinetic part, and the volume expands."""
    from vitreous.analysis.thermal import tg_from_source
    from vitreous.engines.lammps import LammpsMD, LammpsSettings
    from vitreous.potentials import Coulomb, load_forcefield
    from vitreous.protocols import tg_cooling

    proto = tg_cooling(2400, 400, 1000.0, equilibrate_ps=0.2, thermo_every=5)
    res = LammpsMD(
        relaxed_nvp28, load_forcefield("bmp"), proto, tmp_path, seed=1, settings=LammpsSettings(coulomb=Coulomb("dsf"))
    ).run(progress=False)
    fit = tg_from_source(res.trajectory, "enthalpy", window_K=100.0, n_bootstrap=100)
    assert fit.cooling_rate_K_per_ps == pytest.approx(1000.0)
    assert "1000 K/ps" in fit.to_dict()["averaging"]
    assert len(fit.temperatures_K) == 20
    # window centres 450, 550, ... 2350 K in order: the measured mean T of each follows the
    # ramp (5 rows per window of a 405-atom model: ~±100 K of noise each)
    dev = fit.temperatures_K / np.arange(450.0, 2400.0, 100.0) - 1
    assert np.median(np.abs(dev)) < 0.05 and np.abs(dev).max() < 0.2, dev
    assert fit.slopes[0] > 0 and fit.slopes[1] > 0
    # 3/2 N k_B is the kinetic part of dH/dT alone: the fitted slopes cannot be below it
    assert min(fit.slopes) > 1.5 * len(relaxed_nvp28) * 8.617e-5 * 0.9
    vol = tg_from_source(res.trajectory, "volume", window_K=100.0, n_bootstrap=100)
    # 1 ps of cooling leaves the volume too noisy for the sign of a slope; over 2000 K the
    # liquid's expansion still shows: the hottest windows are larger than the coldest
    assert vol.values[-5:].mean() > vol.values[:5].mean()


class _ArrayTrajectory:
    """Positions in memory, the reader interface the dynamics analysis streams from."""

    def __init__(self, pos: np.ndarray, dt_ps: float, box_A: float, symbols: list[str], masses: np.ndarray):
        self._pos = pos
        self.times_ps = np.arange(len(pos)) * dt_ps
        self.n_atoms = pos.shape[1]
        self.masses = masses
        self.symbols = symbols
        self._cell = np.eye(3) * box_A

    def __len__(self) -> int:
        return len(self._pos)

    def positions(self, frames, idx=None):
        p = self._pos[frames]
        return p if idx is None else p[:, idx]

    def cells(self, frames):
        return np.broadcast_to(self._cell, (len(self.times_ps[frames]), 3, 3))


def test_collective_sigma_interval_covers_the_truth():
    """Independent random walkers carrying +1 e among fixed counter-charges: the true
    Einstein–Helfand σ is N e² D/(V k_B T). The stated 95 % interval must cover it in about
    95 % of independent runs (before: blocks fitted on a shorter window, ~50 %)."""
    from vitreous.analysis.dynamics import collective_conductivity

    d, n_w, n_fix, n_frames, dt, box, temp = 0.5, 40, 40, 1000, 0.05, 20.0, 1000.0
    truth = n_w * E**2 * d * 1e-4 / (box**3 * 1e-24 * K_B * temp)
    charges = np.r_[np.ones(n_w), -np.ones(n_fix) * n_w / n_fix]  # neutral: COM removal leaves M alone
    masses = np.r_[np.full(n_w, 23.0), np.full(n_fix, 31.0)]
    covered, values, errors = [], [], []
    for seed in range(150):
        rng = np.random.default_rng(1000 + seed)
        steps = rng.normal(scale=np.sqrt(2 * d * dt), size=(n_frames, n_w, 3))
        steps[0] = 0
        walk = rng.random((n_w, 3)) * box + np.cumsum(steps, axis=0)
        pos = np.concatenate([walk, np.broadcast_to(rng.random((n_fix, 3)) * box, (n_frames, n_fix, 3))], axis=1)
        traj = _ArrayTrajectory(pos, dt, box, ["Na"] * n_w + ["P"] * n_fix, masses)
        out = collective_conductivity(traj, np.arange(n_frames), charges, temp)
        lo, hi = out["collective_interval_95_S_cm"]
        covered.append(lo <= truth <= hi)
        values.append(out["collective_S_cm"])
        errors.append(out["collective_err_S_cm"])
    coverage = np.mean(covered)
    # 150 runs: the binomial 99 % range of a true 95 % coverage is ~0.90-0.99
    assert 0.89 <= coverage <= 0.995, coverage
    # unbiased, and the stated error matches the scatter over runs (not a blown-up bar)
    assert abs(np.mean(values) / truth - 1) < 0.1, np.mean(values) / truth
    assert 0.7 < np.mean(errors) / np.std(values, ddof=1) < 1.4, np.mean(errors) / np.std(values, ddof=1)


def test_arrhenius_scatter_beyond_the_error_bars_widens_the_interval():
    """Points scattering 4x their stated errors: the covariance is scaled by the reduced
    chi-squared, so Ea's 95 % interval covers the truth in ~95 % of fits (unscaled: ~50 %)."""
    k_b = 8.617333262e-5
    t = np.array([900.0, 1000, 1100, 1200, 1300, 1400])
    ea, a = 0.6, 5e3
    truth = a / t * np.exp(-ea / (k_b * t))
    hits = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        sigma = truth * np.exp(rng.normal(scale=0.2, size=t.size))  # real scatter 20 %
        fit = fit_arrhenius(t, sigma, 0.05 * sigma)  # stated 5 %
        q = 2.776  # Student t, 4 dof
        hits.append(abs(fit.Ea_eV - ea) < q * fit.Ea_err_eV)
        assert fit.covariance_scale >= 1.0
    assert 0.9 <= np.mean(hits) <= 0.99, np.mean(hits)
    # errors smaller than stated do not shrink the interval
    exact = fit_arrhenius(t, truth, 0.05 * truth)
    assert exact.covariance_scale == 1.0 and exact.chi2_reduced < 1e-12
    expected = np.sqrt(
        np.linalg.inv(
            np.array([[1, -x] for x in 1 / (k_b * t)]).T @ np.array([[1, -x] for x in 1 / (k_b * t)]) / 0.05**2
        )[1, 1]
    )
    assert exact.Ea_err_eV == pytest.approx(expected, rel=1e-9)


def test_arrhenius_flags_extrapolation_and_tg():
    t = np.array([1300.0, 1600, 1900])
    fit = fit_arrhenius(t, 1e-2 * np.exp(-0.5 / (8.617e-5 * t)), None)
    inside = fit.predict(1500.0, tg_K=1000.0)
    assert inside["extrapolated"] is False and inside["crosses_tg"] is False
    below = fit.predict(473.0, tg_K=1000.0)
    assert below["extrapolated"] is True and below["crosses_tg"] is True
    assert below["fitted_range_K"] == [1300.0, 1900.0]
    assert fit.predict(473.0)["crosses_tg"] is None  # no Tg given: unknown, not "no"
    assert fit.predict(1200.0, tg_K=1000.0)["crosses_tg"] is False
    with pytest.raises(AnalysisError):
        fit.predict(-5.0)
    again = type(fit).from_dict(json.loads(json.dumps(fit.to_dict())))
    assert again.predict(473.0) == fit.predict(473.0)


def test_dynamics_result_round_trips_through_its_json(tmp_path):
    """DynamicsResult.from_dict(to_dict()) gives the same JSON and plots from it alone."""
    import json

    from vitreous.analysis.dynamics import DynamicsResult
    from vitreous.report.figures import save_plot

    traj = random_walk(0.3, n_walkers=40, n_frames=80, dt_ps=0.1, seed=5)
    res = analyze_dynamics(traj, "Na", temperature_K=1000.0, threshold_A2=1.0)
    d = json.loads(json.dumps(res.to_dict()))
    back = DynamicsResult.from_dict(d)
    assert json.loads(json.dumps(back.to_dict())) == d
    assert back.diffusion.D_cm2_s == pytest.approx(res.diffusion.D_cm2_s, rel=1e-12)
    assert save_plot(back, tmp_path / "msd.png").stat().st_size > 1000
