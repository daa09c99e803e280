"""Measured data: impedance, XPS and DSC fits on synthetic spectra built here from known
parameters with noise (closed-form models written out in this file, not the code's own
output), their CLI, and bad input at every entry point."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from scipy.special import erf
from typer.testing import CliRunner

from vitreous.cli.main import app
from vitreous.composition import resolve, with_v4_fraction
from vitreous.errors import AnalysisError, CompositionError, InputFileError
from vitreous.experiment import (
    Spectrum,
    fit_dsc,
    fit_eis,
    fit_eis_series,
    fit_xps,
    read_dsc,
    read_spectrum,
    read_xps,
    shirley_background,
)

KB_EV = 8.617333262e-5
runner = CliRunner()
szip = functools.partial(zip, strict=True)


# ---------------------------------------------------------------- impedance


def z_model(f, r0, r1, q1, a1, q2, a2):
    """R0 + (R1 ∥ CPE1) + CPE2, CPE: Z = 1 / (Q (jω)^α), written out by hand."""
    jw = 1j * 2 * np.pi * np.asarray(f)
    return r0 + 1.0 / (1.0 / r1 + q1 * jw**a1) + 1.0 / (q2 * jw**a2)


def noisy(z, rel, seed):
    rng = np.random.default_rng(seed)
    return z.real * (1 + rel * rng.normal(size=z.size)) + 1j * z.imag * (1 + rel * rng.normal(size=z.size))


F = np.logspace(7, -1, 81)
TRUE = (80.0, 2.0e5, 3e-11, 0.85, 2e-7, 0.6)  # the spike's CPE (α 0.6) runs into the arc


def test_eis_recovers_bulk_resistance_where_the_spike_overlaps_the_arc():
    z = noisy(z_model(F, *TRUE), 0.01, 1)
    r_true = TRUE[0] + TRUE[1]
    valley = np.argmin(-z.imag[10:60]) + 10  # where one would read the intercept by eye
    assert abs(z.real[valley] - r_true) / r_true > 0.02  # the overlap makes the eye reading wrong
    fit = fit_eis(Spectrum(F, z, "synthetic"), thickness_mm=1.2, area_cm2=0.8)
    assert fit.bulk_resistance_ohm == pytest.approx(r_true, rel=0.01)
    assert abs(fit.bulk_resistance_ohm - r_true) < 4 * fit.bulk_resistance_err_ohm  # error bar not too small
    assert fit.sigma_S_cm == (1.2 / 10) / (fit.bulk_resistance_ohm * 0.8)  # σ = d/(R A), exactly
    assert fit.sigma_err_S_cm == pytest.approx(fit.sigma_S_cm * fit.bulk_resistance_err_ohm / fit.bulk_resistance_ohm)
    p = dict(zip(fit.parameter_names, fit.parameters, strict=True))
    assert p["CPE1_alpha"] == pytest.approx(0.85, abs=0.01) and p["CPE2_alpha"] == pytest.approx(0.6, abs=0.01)
    arc = fit.arcs[0]
    r1, q1, a1 = TRUE[1], TRUE[2], TRUE[3]
    assert arc["apex_frequency_Hz"] == pytest.approx(1 / (2 * np.pi * (r1 * q1) ** (1 / a1)), rel=0.05)
    assert arc["capacitance_F"] == pytest.approx(q1 ** (1 / a1) * r1 ** ((1 - a1) / a1), rel=0.1)
    assert fit.relative_residual < 0.02


def test_eis_error_bars_cover_over_noise_realisations():
    r_true = TRUE[0] + TRUE[1]
    inside = 0
    for seed in range(12):
        fit = fit_eis(Spectrum(F, noisy(z_model(F, *TRUE), 0.01, 100 + seed), "s"), 1.0, 1.0)
        inside += abs(fit.bulk_resistance_ohm - r_true) < 1.96 * fit.bulk_resistance_err_ohm
    assert inside >= 8  # 95 % intervals: expect ~11 of 12; 8 or fewer would be badly too narrow


def test_eis_arrhenius_recovers_the_activation_energy():
    ea, d_mm, a_cm2 = 0.55, 1.0, 0.5
    spectra = []
    for t in (423.0, 448.0, 473.0, 498.0, 523.0):
        sigma = 3.3e-5 * 473.0 / t * np.exp(-ea / KB_EV * (1 / t - 1 / 473.0))
        r_b = (d_mm / 10) / (sigma * a_cm2)
        z = noisy(z_model(F, 15.0, r_b - 15.0, 2e-11, 0.88, 1.5e-6, 0.7), 0.01, int(t))
        spectra.append(Spectrum(F, z, f"s{t:g}", t))
    series = fit_eis_series(spectra, d_mm, a_cm2)
    assert series.arrhenius is not None and series.arrhenius.form == "sigma_T"
    assert series.arrhenius.Ea_eV == pytest.approx(ea, abs=0.01)
    assert [p[0] for p in series.points()] == [423.0, 448.0, 473.0, 498.0, 523.0]


def test_eis_readers_sign_temperature_and_gamry(tmp_path):
    z = z_model(F, *TRUE)
    f1 = tmp_path / "glass_200C.csv"  # −Z'' column with a header, T in the name
    f1.write_text("freq/Hz,Re(Z)/Ohm,-Im(Z)/Ohm\n" + "\n".join(f"{a},{b},{-c}" for a, b, c in szip(F, z.real, z.imag)))
    s1 = read_spectrum(f1)
    np.testing.assert_allclose(s1.z_ohm, z)
    assert s1.temperature_K == pytest.approx(473.15)
    f2 = tmp_path / "run.txt"  # Z'' as is (negative), T in a header line
    f2.write_text("# Temperature: 450 K\n" + "\n".join(f"{a}\t{b}\t{c}" for a, b, c in szip(F, z.real, z.imag)))
    s2 = read_spectrum(f2)
    np.testing.assert_allclose(s2.z_ohm, z)
    assert s2.temperature_K == 450.0
    assert read_spectrum(f2, temperature_K=500.0).temperature_K == 500.0
    # Gamry .DTA: ZCURVE table, two header lines, then Pt Time Freq Zreal Zimag ...
    rows = "\n".join(
        f"\t{i}\t{i}\t{a}\t{b}\t{c}\t1\t{abs(b + 1j * c)}\t0" for i, (a, b, c) in enumerate(szip(F, z.real, z.imag))
    )
    dta = tmp_path / "scan.DTA"
    dta.write_text(
        "EXPLAIN\nTAG\tEISPOT\nZCURVE\tTABLE\n\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\n"
        "\t#\ts\tHz\tohm\tohm\tV\tohm\tdeg\n" + rows + "\n"
    )
    np.testing.assert_allclose(read_spectrum(dta).z_ohm, z)


def test_eis_bad_input(tmp_path):
    good = Spectrum(F, z_model(F, *TRUE), "s")
    with pytest.raises(AnalysisError, match="thickness"):
        fit_eis(good, 0.0, 1.0)
    with pytest.raises(AnalysisError, match="area"):
        fit_eis(good, 1.0, -1.0)
    with pytest.raises(AnalysisError, match="parameters"):
        fit_eis(Spectrum(F[:3], good.z_ohm[:3], "short"), 1.0, 1.0)
    with pytest.raises(AnalysisError, match="not resistors"):
        fit_eis(good, 1.0, 1.0, bulk_elements=["CPE1"])
    with pytest.raises(AnalysisError, match="circuit"):
        fit_eis(good, 1.0, 1.0, circuit="R0-p(R1,XYZ1)")
    with pytest.raises(AnalysisError, match="did not converge"):  # an inductive spectrum: no RC circuit fits
        fit_eis(Spectrum(F, 100.0 + 1j * 2 * np.pi * F * 1e-3, "inductive"), 1.0, 1.0)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputFileError, match="no numeric data"):
        read_spectrum(empty)
    bad = tmp_path / "bad.txt"
    bad.write_text("1e5 10 -5\n1e4 20 -8\n1e3 x -9\n")
    with pytest.raises(InputFileError, match="line 3"):
        read_spectrum(bad)
    neg = tmp_path / "neg.txt"
    neg.write_text("-1 10 -5\n1e4 20 -8\n1e3 30 -9\n")
    with pytest.raises(InputFileError, match="positive"):
        read_spectrum(neg)


def test_eis_cli(tmp_path):
    z = noisy(z_model(F, *TRUE), 0.01, 5)
    f = tmp_path / "s_473K.txt"
    f.write_text("# synthetic\n" + "\n".join(f"{a} {b} {c}" for a, b, c in szip(F, z.real, z.imag)))
    out = tmp_path / "eis.json"
    res = runner.invoke(
        app,
        [
            "exp",
            "eis",
            str(f),
            "--thickness-mm",
            "1",
            "--area-cm2",
            "0.5",
            "-o",
            str(out),
            "--plots",
            str(tmp_path / "plots"),
        ],
    )
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    for key in (
        "bulk_resistance_ohm",
        "bulk_resistance_err_ohm",
        "sigma_S_cm",
        "sigma_err_S_cm",
        "circuit",
        "parameters",
    ):
        assert key in d
    assert d["sigma_S_cm"] == pytest.approx(0.1 / (d["bulk_resistance_ohm"] * 0.5), rel=1e-12)
    assert d["temperature_K"] == 473.0
    assert (tmp_path / "plots" / "nyquist_s_473K.png").stat().st_size > 0
    for args, fragment in (
        (["--thickness-mm", "0", "--area-cm2", "1"], "thickness"),
        (["--thickness-mm", "1", "--area-cm2", "0"], "area"),
        (["--thickness-mm", "1", "--area-cm2", "1", "--temperature-K", "400", "--temperature-K", "500"], "per file"),
    ):
        bad_out = tmp_path / "bad.json"
        res = runner.invoke(app, ["exp", "eis", str(f), *args, "-o", str(bad_out)])
        assert res.exit_code == 2 and fragment in res.output and len(res.output.strip().splitlines()) == 1
        assert not bad_out.exists()  # nothing partial written
    res = runner.invoke(
        app,
        [
            "exp",
            "eis",
            str(tmp_path / "none.txt"),
            "--thickness-mm",
            "1",
            "--area-cm2",
            "1",
            "-o",
            str(tmp_path / "x.json"),
        ],
    )
    assert res.exit_code == 2 and "none.txt" in res.output


# ---------------------------------------------------------------- XPS


def gl(x, centre, fwhm, area, lorentz=0.3):
    """GL sum form: (1 − m) Gaussian + m Lorentzian, same FWHM, unit area × ``area``."""
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    g = np.exp(-((x - centre) ** 2) / (2 * s**2)) / (s * np.sqrt(2 * np.pi))
    lor = (fwhm / 2) / np.pi / ((x - centre) ** 2 + (fwhm / 2) ** 2)
    return area * ((1 - lorentz) * g + lorentz * lor)


def shirley_on(e, peaks, low=300.0, k=0.08):
    """A Shirley background by its definition: proportional to the peak area at lower binding energy."""
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (peaks[1:] + peaks[:-1]) * np.diff(e))])
    return low + k * cum


@pytest.mark.parametrize("f4", [0.13, 0.35])
def test_xps_recovers_the_v4_fraction(f4):
    e = np.arange(508.0, 524.0, 0.05)
    peaks = gl(e, 517.3, 1.3, 2e4 * (1 - f4)) + gl(e, 516.1, 1.6, 2e4 * f4)
    y = np.random.default_rng(int(100 * f4)).poisson(shirley_on(e, peaks) + peaks).astype(float)
    fit = fit_xps(e, y, fit_range_eV=(508.0, 524.0))
    assert fit.V4_fraction == pytest.approx(f4, abs=0.02)
    assert 0 < fit.V4_fraction_err < 0.05
    got = {c["label"]: c for c in fit.components}
    assert got["V5+"]["binding_energy_eV"] == pytest.approx(517.3, abs=0.1)
    assert got["V4+"]["binding_energy_eV"] == pytest.approx(516.1, abs=0.15)


def test_xps_o1s_and_v2p12_in_the_window_are_not_vanadium_2p32(tmp_path):
    e = np.arange(508.0, 534.0, 0.05)
    f4, v = 0.13, 3e4
    peaks = (
        gl(e, 517.25, 1.35, v * (1 - f4))
        + gl(e, 516.05, 1.6, v * f4)
        + gl(e, 524.6, 2.3, 0.5 * v * (1 - f4))
        + gl(e, 523.4, 2.6, 0.5 * v * f4)
        + gl(e, 530.1, 1.4, 9e4)
    )
    y = np.random.default_rng(7).poisson(shirley_on(e, peaks, 400.0, 0.06) + peaks)
    path = tmp_path / "v2p.txt"  # descending energies, as many instruments write
    path.write_text("Binding Energy (eV)\tCounts\n" + "\n".join(f"{a:.2f}\t{b}" for a, b in szip(e[::-1], y[::-1])))
    e_read, y_read = read_xps(path)
    assert np.all(np.diff(e_read) > 0)
    fit = fit_xps(e_read, y_read)
    assert fit.V4_fraction == pytest.approx(f4, abs=0.03)
    vanadium = [c for c in fit.components if c["used_in_fraction"]]
    assert {c["label"] for c in vanadium} == {"V5+", "V4+"}
    assert all(c["binding_energy_eV"] < 518.5 for c in vanadium)
    assert any("O 1s" in n for n in fit.notes)


def test_shirley_background_of_a_known_step():
    e = np.arange(510.0, 525.0, 0.02)
    peaks = gl(e, 517.0, 1.2, 1e4, lorentz=0.0)  # Gaussian: no tails beyond the range
    truth = shirley_on(e, peaks, 200.0, 0.1)
    bg, n_it = shirley_background(e, truth + peaks, n_end=3)
    assert n_it > 1
    assert np.max(np.abs(bg - truth)) < 0.5  # counts, on a step of 1000


def test_xps_bad_input(tmp_path):
    e = np.arange(508.0, 524.0, 0.05)
    y = shirley_on(e, gl(e, 517.3, 1.3, 2e4)) + gl(e, 517.3, 1.3, 2e4)
    with pytest.raises(AnalysisError, match="V5 and V4"):
        fit_xps(e, y, ("V5",))
    with pytest.raises(AnalysisError, match="unknown"):
        fit_xps(e, y, ("V5", "V4", "Cr3"))
    with pytest.raises(AnalysisError, match="points"):
        fit_xps(e[:20], y[:20])
    with pytest.raises(AnalysisError, match="shape"):
        fit_xps(e, y, shape="lorentz")  # type: ignore[arg-type]
    neg = tmp_path / "neg.txt"
    neg.write_text("\n".join(f"{a} {-1.0}" for a in e[:10]))
    with pytest.raises(AnalysisError, match="negative"):
        read_xps(neg)
    res = runner.invoke(app, ["exp", "xps", str(neg), "-o", str(tmp_path / "x.json")])
    assert res.exit_code == 2 and "negative" in res.output and not (tmp_path / "x.json").exists()


def test_xps_cli_and_build_from_xps(tmp_path):
    e = np.arange(508.0, 524.0, 0.05)
    peaks = gl(e, 517.3, 1.3, 2e4 * 0.8) + gl(e, 516.1, 1.6, 2e4 * 0.2)
    y = np.random.default_rng(3).poisson(shirley_on(e, peaks) + peaks)
    f = tmp_path / "v.txt"
    f.write_text("\n".join(f"{a:.2f} {b}" for a, b in szip(e, y)))
    out = tmp_path / "xps.json"
    res = runner.invoke(app, ["exp", "xps", str(f), "-o", str(out), "--energy-range-eV", "508:524"])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert {"V4_fraction", "V4_fraction_err", "components"} <= set(d)
    assert {"label", "binding_energy_eV", "fwhm_eV", "area"} <= set(d["components"][0])
    model = tmp_path / "m.extxyz"
    res = runner.invoke(
        app,
        [
            "build",
            "NVP28",
            "--atoms",
            "405",
            "-o",
            str(model),
            "--from-xps",
            str(out),
            "--json",
            str(tmp_path / "m.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    built = json.loads((tmp_path / "m.json").read_text())
    assert built["v4_fraction"] == pytest.approx(d["V4_fraction"], abs=0.03)  # integer counts of ~60 V
    res = runner.invoke(app, ["build", "NVP28", "--atoms", "405", "-o", str(model), "--v4-fraction", "1.5"])
    assert res.exit_code == 2 and "0-1" in res.output


def test_with_v4_fraction_keeps_total_vanadium():
    comp, _ = resolve("NVP28")
    new = with_v4_fraction(comp, 0.25).as_dict()
    old = comp.as_dict()
    assert new["V2O4"] + new["V2O5"] == pytest.approx(old["V2O4"] + old["V2O5"])
    assert new["V2O4"] / (new["V2O4"] + new["V2O5"]) == pytest.approx(0.25)
    assert new["Na2O"] == pytest.approx(old["Na2O"]) and new["P2O5"] == pytest.approx(old["P2O5"])
    assert "V2O4" not in with_v4_fraction(comp, 0.0).as_dict()
    with pytest.raises(CompositionError):
        with_v4_fraction(comp, -0.1)
    with pytest.raises(CompositionError, match="no V2O4"):
        with_v4_fraction(resolve("50Na2O-50P2O5")[0], 0.5)


# ---------------------------------------------------------------- DSC


def dsc_curve(t_k, tg, width, endo="down", seed=0):
    step = 0.5 * (1 + erf((t_k - tg) / (np.sqrt(2) * width)))
    up = 0.1 + 2e-4 * (t_k - 400) + 0.25 * step + 1e-4 * np.clip(t_k - tg, 0, None)
    up = up + np.random.default_rng(seed).normal(0, 0.002, t_k.size)
    return up if endo == "up" else -up


@pytest.mark.parametrize(("tg", "width", "endo"), [(570.0, 6.0, "down"), (640.0, 10.0, "up")])
def test_dsc_recovers_the_midpoint(tg, width, endo):
    t = np.arange(400.0, 800.0, 0.5)
    fit = fit_dsc(t, dsc_curve(t, tg, width, endo), endo=endo)
    assert fit.Tg_midpoint_K == pytest.approx(tg, abs=2.0)
    assert fit.Tg_onset_K < fit.Tg_midpoint_K < fit.Tg_endset_K
    # tangent construction of an erf step: onset/endset ≈ Tg ∓ σ√(π/2) (half-height width of the tangent)
    assert fit.Tg_endset_K - fit.Tg_onset_K == pytest.approx(2 * width * np.sqrt(np.pi / 2), rel=0.2)


def test_dsc_reading_units_and_bad_input(tmp_path):
    t = np.arange(400.0, 800.0, 0.5)
    hf = dsc_curve(t, 570.0, 6.0)
    f = tmp_path / "dsc.txt"
    f.write_text("Temperature (C); Heat flow (W/g)\n" + "\n".join(f"{a - 273.15:.3f}; {b:.6f}" for a, b in szip(t, hf)))
    tk, _ = read_dsc(f, "C")
    np.testing.assert_allclose(tk, t, atol=1e-3)
    out = tmp_path / "dsc.json"
    res = runner.invoke(app, ["exp", "dsc", str(f), "-o", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["Tg_onset_K"] < d["Tg_midpoint_K"] < d["Tg_endset_K"]
    assert d["Tg_midpoint_K"] == pytest.approx(570.0, abs=2.0)
    with pytest.raises(AnalysisError, match="endo"):
        fit_dsc(t, hf, endo="left")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="too few"):
        fit_dsc(t[:10], hf[:10])
    with pytest.raises(AnalysisError, match="glass window"):
        fit_dsc(t, hf, glass_window_K=(300.0, 310.0))
    with pytest.raises(AnalysisError):  # the step read with the wrong endothermic direction
        fit_dsc(t, -hf, endo="down")
    res = runner.invoke(app, ["exp", "dsc", str(f), "-o", str(tmp_path / "y.json"), "--temperature-unit", "F"])
    assert res.exit_code == 2 and "unit" in res.output and not (tmp_path / "y.json").exists()


# ---------------------------------------------------------------- study file


def _study_with_measurements(tmp_path):
    from pathlib import Path

    e = np.arange(508.0, 524.0, 0.05)
    peaks = gl(e, 517.3, 1.3, 2e4 * 0.8) + gl(e, 516.1, 1.6, 2e4 * 0.2)
    (tmp_path / "v.txt").write_text("\n".join(f"{a:.2f} {b}" for a, b in szip(e, shirley_on(e, peaks) + peaks)))
    t = np.arange(400.0, 800.0, 0.5)
    (tmp_path / "d.txt").write_text("\n".join(f"{a} {b}" for a, b in szip(t, dsc_curve(t, 570.0, 6.0))))
    z = z_model(F, *TRUE)
    for temp in (450, 500):
        (tmp_path / f"e{temp}.txt").write_text("\n".join(f"{a} {b} {c}" for a, b, c in szip(F, z.real, z.imag)))
    raw = {
        "name": "m",
        "compositions": ["NVP28"],
        "sizes": [120],
        "experiment": {
            "NVP28": {
                "v4_fraction": "xps",
                "density_g_cm3": 2.9,
                "xps": {"file": "v.txt"},
                "dsc": {"file": "d.txt", "temperature_unit": "K"},
                "eis": {
                    "files": ["e450.txt", "e500.txt"],
                    "temperatures_K": [450, 500],
                    "thickness_mm": 1.0,
                    "area_cm2": 0.5,
                },
            }
        },
    }
    return raw, str(Path(tmp_path) / "study.toml")


def test_study_measurement_tables_validate_and_wire_the_graph(tmp_path):
    import copy

    from vitreous.errors import StudyError
    from vitreous.study.graph import build_graph
    from vitreous.study.spec import parse_study

    raw, src = _study_with_measurements(tmp_path)
    tasks = build_graph(parse_study(raw, src))
    by_kind = {t.kind: t for t in tasks}
    assert {"exp_xps", "exp_dsc", "exp_eis"} <= set(by_kind)
    assert by_kind["build"].deps == (by_kind["exp_xps"].key,)
    assert by_kind["build"].params["density_g_cm3"] == 2.9
    assert by_kind["exp_eis"].key in by_kind["arrhenius"].deps
    (tmp_path / "v.txt").write_text((tmp_path / "v.txt").read_text() + "\n")  # an edited file is fitted again
    again = {t.kind: t.key for t in build_graph(parse_study(raw, src))}
    assert again["exp_xps"] != by_kind["exp_xps"].key and again["exp_dsc"] == by_kind["exp_dsc"].key
    for change, fragment in (
        (lambda r: r["experiment"]["NVP28"].pop("xps"), "needs an"),
        (lambda r: r["experiment"]["NVP28"]["eis"].update(temperatures_K=[450]), "one temperature"),
        (lambda r: r["experiment"]["NVP28"]["dsc"].update(endo="sideways"), "endo"),
        (lambda r: r["experiment"]["NVP28"]["eis"].update(thickness_mm=0), "must be positive"),
        (lambda r: r["experiment"]["NVP28"].update(v4_fraction=2), "within 0-1"),
        (lambda r: r["experiment"]["NVP28"]["xps"].update(file="missing.txt"), "does not exist"),
        (lambda r: r["experiment"]["NVP28"]["xps"].update(bogus=1), "unknown key"),
    ):
        bad = copy.deepcopy(raw)
        change(bad)
        with pytest.raises(StudyError, match=fragment):
            parse_study(bad, src)
