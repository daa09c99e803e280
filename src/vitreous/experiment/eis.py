"""Impedance spectroscopy (EIS): spectra read from instrument files, equivalent-circuit fits
with the ``impedance`` package (impedance.py), bulk resistance → conductivity, Arrhenius.

Conventions
-----------
- Z = Z' + j Z'' in Ω; a capacitive arc has Z'' < 0. A column written as −Z'' (BioLogic's
  ``-Im(Z)/Ohm``, or a header saying ``-Im``/``-Z''``) is turned back into Z''; a column with
  positive values for most points and no header is read as −Z'' too (recorded in ``notes``).
- The default circuit ``R0-p(R1,CPE1)-CPE2`` is a series resistance, the bulk arc (a resistor
  parallel to a constant phase element, a depressed semicircle), and the blocking-electrode
  spike (CPE2). A CPE has Z = 1/(Q (jω)^α) (impedance.py's ``CPE``).
- Bulk resistance R_b = Σ of the ``bulk_elements`` resistors (default: every resistor of the
  circuit, R0 + R1 for the default) with its standard error from the fit covariance
  (off-diagonal terms included); σ = d / (R_b A) in S/cm (d: thickness, A: electrode area).
- Arc of a parallel R–CPE: apex frequency f = 1 / (2π (R Q)^(1/α)), capacitance
  C = Q^(1/α) R^((1−α)/α) (Hsu & Mansfeld, Corrosion 57 (2001) 747).
- The fit is a least-squares fit of (Z', Z'') stacked, weighted by |Z| (``weight_by_modulus``
  of impedance.py, so that every decade of frequency counts), through ``scipy.optimize.
  curve_fit`` on impedance.py's circuit function; standard errors from its covariance.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vitreous.analysis.arrhenius import ArrheniusFit, fit_arrhenius
from vitreous.errors import AnalysisError, InputFileError
from vitreous.experiment._table import read_table

__all__ = ["DEFAULT_CIRCUIT", "EISFit", "Spectrum", "fit_eis", "fit_eis_series", "read_spectrum"]

DEFAULT_CIRCUIT = "R0-p(R1,CPE1)-CPE2"

_TEMP_NAME = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(K|C|degC|°C)(?![A-Za-z])")
_TEMP_HEADER = re.compile(r"temp\w*\D*?(-?\d+(?:\.\d+)?)\s*(K|C|degC|°C)?", re.IGNORECASE)


@dataclass
class Spectrum:
    """One impedance spectrum.

    Attributes
    ----------
    frequency_Hz : ndarray
        Frequencies (Hz), as in the file.
    z_ohm : ndarray of complex
        Z' + j Z'' (Ω), Z'' < 0 for a capacitive arc.
    source : str
        The file.
    temperature_K : float or None
        Sample temperature (K): given, or read from the header or file name.
    notes : list of str
        What the reader inferred (sign of the imaginary column, where T came from).
    """

    frequency_Hz: np.ndarray
    z_ohm: np.ndarray
    source: str
    temperature_K: float | None = None
    notes: list[str] = field(default_factory=list)


def _to_kelvin(value: float, unit: str | None) -> float:
    return value + 273.15 if unit in ("C", "degC", "°C") else value


def _temperature_from(path: Path, header: tuple[str, ...]) -> tuple[float | None, str]:
    for line in header:
        m = _TEMP_HEADER.search(line)
        if m:
            return _to_kelvin(float(m.group(1)), m.group(2) or "K"), f"temperature from the header ('{line[:40]}')"
    m = _TEMP_NAME.search(path.stem)
    if m:
        return _to_kelvin(float(m.group(1)), m.group(2)), f"temperature from the file name ({m.group(0)})"
    return None, ""


def read_spectrum(path: str | os.PathLike, temperature_K: float | None = None) -> Spectrum:
    """Read an impedance spectrum.

    Parameters
    ----------
    path : path-like
        Text/CSV with columns frequency (Hz), Z' (Ω), Z'' (Ω) (header lines allowed);
        Gamry ``.DTA`` (impedance.py's ``readGamry``); BioLogic ``.mpr`` (through the optional
        ``galvani`` package).
    temperature_K : float, optional
        Sample temperature; default: read from a header line with "temp…" and a number with
        unit K or C, else from the file name (``…_473K.txt``, ``…200C.csv``).

    Raises
    ------
    InputFileError
        Missing, empty or malformed file; non-positive frequencies.
    """
    path = Path(path)
    notes: list[str] = []
    header: tuple[str, ...] = ()
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    if suffix == ".dta":
        from impedance.preprocessing import readGamry

        try:
            f, z = readGamry(str(path))
        except (UnboundLocalError, IndexError, ValueError):
            raise InputFileError(f"{path}: not a Gamry EIS file (no readable ZCURVE table)") from None
        header = tuple(line.strip() for line in path.read_text(encoding="latin-1").splitlines()[:60])
        notes.append("read with impedance.preprocessing.readGamry")
    elif suffix == ".mpr":
        f, z = _read_mpr(path)
        notes.append("read with galvani.BioLogic.MPRfile")
    else:
        table = read_table(path, 3, "frequency_Hz Re(Z)_ohm Im(Z)_ohm", max_columns=3)
        header = table.header
        f, re_z, im_z = table.data.T
        minus = any(re.search(r"-\s*(Im|Z''|Z\")", line) for line in header)
        if minus:
            im_z = -im_z
            notes.append("imaginary column read as -Im(Z) (header)")
        elif np.median(im_z) > 0:
            im_z = -im_z
            notes.append("imaginary column has mostly positive values: read as -Im(Z)")
        z = re_z + 1j * im_z
    f = np.asarray(f, dtype=float)
    z = np.asarray(z, dtype=complex)
    if len(f) < 3:
        raise InputFileError(f"{path}: {len(f)} frequencies, need at least 3")
    if np.any(f <= 0) or not np.all(np.isfinite(f)) or not np.all(np.isfinite(z)):
        raise InputFileError(f"{path}: frequencies must be positive and all values finite", hint="first column: Hz")
    if temperature_K is None:
        temperature_K, how = _temperature_from(path, header)
        if how:
            notes.append(how)
    elif temperature_K <= 0:
        raise InputFileError(f"{path}: temperature must be positive, got {temperature_K} K")
    return Spectrum(f, z, str(path), temperature_K, notes)


def _read_mpr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        from galvani import BioLogic
    except ImportError:
        raise InputFileError(
            f"{path}: BioLogic .mpr needs the optional 'galvani' package", hint="pip install galvani, or export text"
        ) from None
    try:
        data = BioLogic.MPRfile(str(path)).data
        return np.asarray(data["freq/Hz"]), np.asarray(data["Re(Z)/Ohm"]) - 1j * np.asarray(data["-Im(Z)/Ohm"])
    except (ValueError, KeyError, NotImplementedError) as exc:
        raise InputFileError(f"{path}: cannot read an impedance table from this .mpr file ({exc})") from None


def _elements(circuit: str) -> list[tuple[str, str, int]]:
    """(name, type, number of parameters) of each element, in parameter order."""
    from impedance.models.circuits.elements import circuit_elements
    from impedance.models.circuits.fitting import extract_circuit_elements

    out = []
    for name in extract_circuit_elements(circuit):
        kind = re.sub(r"_?\d+$", "", name)
        if kind not in circuit_elements:
            raise AnalysisError(f"unknown circuit element '{name}' in '{circuit}'", hint="e.g. R0-p(R1,CPE1)-CPE2")
        out.append((name, kind, circuit_elements[kind].num_params))
    return out


def _param_names(circuit: str) -> list[str]:
    names = []
    for name, kind, n in _elements(circuit):
        if n == 1:
            names.append(name)
        elif kind == "CPE":
            names += [f"{name}_Q", f"{name}_alpha"]
        else:
            names += [f"{name}_{i}" for i in range(n)]
    return names


def _guesses(circuit: str, f: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """Deterministic starting points around what the spectrum shows: the high-frequency
    intercept for the series resistor; for the arc, Z' at the first valley of −Z'' (where an
    electrode spike takes over) or the span of Z', and the frequency of the largest −Z''."""
    order = np.argsort(f)[::-1]
    f, z = f[order], z[order]
    span = max(float(np.ptp(z.real)), 1e-12)
    r_hf = max(float(z.real[0]), 1e-6 * span)
    mim = -z.imag
    peaks = [i for i in range(1, len(f) - 1) if mim[i] >= mim[i - 1] and mim[i] >= mim[i + 1]]
    valleys = [i for i in range(1, len(f) - 1) if mim[i] <= mim[i - 1] and mim[i] <= mim[i + 1]]
    r_arcs = [span * x for x in (0.3, 0.9)]
    if valleys:
        r_arcs = [max(float(z.real[valleys[0]]) - r_hf, 1e-6 * span) * x for x in (0.8, 1.0, 1.2)] + r_arcs
    f_apex = [f[i] for i in peaks[:2]] + [float(np.sqrt(f[0] * f[-1]))]
    elems = _elements(circuit)
    n_r = sum(1 for _, k, _ in elems if k == "R")
    low_w = 2 * np.pi * f[-1]
    out = []
    for r_arc in r_arcs:
        for fa in f_apex:
            p: list[float] = []
            first_r = True
            for name, kind, _n in elems:
                if kind == "R":
                    p.append(r_hf if first_r and n_r > 1 else r_arc / max(n_r - 1, 1))
                    first_r = False
                elif kind in ("CPE", "C"):
                    if name == elems[-1][0] and kind == "CPE" and n_r >= 1:  # the electrode spike
                        alpha = 0.8
                        q = 1.0 / (max(abs(z.imag[-1]), 1e-12) * low_w**alpha)
                    else:
                        alpha = 0.9
                        q = 1.0 / (r_arc * (2 * np.pi * fa) ** alpha)
                    p += [q, alpha] if kind == "CPE" else [q]
                else:
                    raise AnalysisError(
                        f"no automatic initial guess for element '{name}'", hint="give --initial-guess with every value"
                    )
            out.append(np.array(p))
    return out


@dataclass
class EISFit:
    """Equivalent-circuit fit of one spectrum (see the module docstring for the formulas).

    ``to_dict`` gives the JSON layout of ``vitreous exp eis``; ``plot(ax, kind)`` draws the
    Nyquist (``"nyquist"``) or Bode (``"bode"``) plot with the fit.
    """

    spectrum: Spectrum
    circuit: str
    parameter_names: list[str]
    parameters: np.ndarray
    errors: np.ndarray
    cov: np.ndarray
    bulk_elements: list[str]
    bulk_resistance_ohm: float
    bulk_resistance_err_ohm: float
    thickness_mm: float
    area_cm2: float
    arcs: list[dict[str, Any]]
    relative_residual: float
    fit_time_s: float

    @property
    def sigma_S_cm(self) -> float:
        """σ = d / (R_b A) (S/cm), d in cm."""
        return (self.thickness_mm / 10.0) / (self.bulk_resistance_ohm * self.area_cm2)

    @property
    def sigma_err_S_cm(self) -> float:
        """Standard error of σ from that of R_b (the geometry taken as exact)."""
        return self.sigma_S_cm * self.bulk_resistance_err_ohm / self.bulk_resistance_ohm

    def predict(self, frequency_Hz: np.ndarray) -> np.ndarray:
        """The fitted circuit's Z (Ω, complex) at ``frequency_Hz``."""
        from impedance.models.circuits.fitting import wrapCircuit

        f = np.asarray(frequency_Hz, dtype=float)
        y = wrapCircuit(self.circuit, {})(f, *self.parameters)
        return y[: len(f)] + 1j * y[len(f) :]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (keys of the ``vitreous exp eis`` output)."""
        return {
            "source": self.spectrum.source,
            "temperature_K": self.spectrum.temperature_K,
            "circuit": self.circuit,
            "parameters": {n: float(v) for n, v in zip(self.parameter_names, self.parameters, strict=True)},
            "parameter_errors": {n: float(v) for n, v in zip(self.parameter_names, self.errors, strict=True)},
            "bulk_elements": self.bulk_elements,
            "bulk_resistance_ohm": self.bulk_resistance_ohm,
            "bulk_resistance_err_ohm": self.bulk_resistance_err_ohm,
            "thickness_mm": self.thickness_mm,
            "area_cm2": self.area_cm2,
            "sigma_S_cm": self.sigma_S_cm,
            "sigma_err_S_cm": self.sigma_err_S_cm,
            "arcs": self.arcs,
            "n_points": len(self.spectrum.frequency_Hz),
            "frequency_range_Hz": [float(self.spectrum.frequency_Hz.min()), float(self.spectrum.frequency_Hz.max())],
            "relative_residual": self.relative_residual,
            "weighting": "modulus",
            "fit_time_s": self.fit_time_s,
            "notes": self.spectrum.notes,
            "formula": "sigma = thickness / (R_bulk * area)",
        }

    def plot(self, ax: Any, kind: Literal["nyquist", "bode"] = "nyquist") -> Any:
        """Nyquist (−Z'' against Z') or Bode (|Z| and phase against f) with the fit."""
        f = self.spectrum.frequency_Hz
        z = self.spectrum.z_ohm
        ff = np.logspace(np.log10(f.min()), np.log10(f.max()), 300)
        zf = self.predict(ff)
        label = f"{Path(self.spectrum.source).name}" + (
            f", {self.spectrum.temperature_K:g} K" if self.spectrum.temperature_K else ""
        )
        if kind == "nyquist":
            ax.plot(z.real, -z.imag, "o", ms=3, mfc="none", label=label)
            ax.plot(zf.real, -zf.imag, "r-", label=f"fit {self.circuit}, R_b = {self.bulk_resistance_ohm:.3g} Ω")
            ax.set_xlabel("Z' (Ω)")
            ax.set_ylabel("−Z'' (Ω)")
            ax.set_aspect("equal", adjustable="datalim")
        else:
            ax.loglog(f, np.abs(z), "o", ms=3, mfc="none", label=f"|Z| {label}")
            ax.loglog(ff, np.abs(zf), "r-", label="fit")
            ax.set_xlabel("f (Hz)")
            ax.set_ylabel("|Z| (Ω)")
            ax2 = ax.twinx()
            ax2.semilogx(f, -np.degrees(np.angle(z)), "s", ms=2, color="grey", mfc="none")
            ax2.semilogx(ff, -np.degrees(np.angle(zf)), "-", color="grey")
            ax2.set_ylabel("−phase (°)")
        ax.legend(frameon=False, fontsize=8)
        return ax


def _arcs(circuit: str, names: list[str], p: np.ndarray) -> list[dict[str, Any]]:
    values = dict(zip(names, p, strict=True))
    out = []
    for m in re.finditer(r"p\(\s*(R\w*?)\s*,\s*(CPE\w*?|C\w*?)\s*\)|p\(\s*(CPE\w*?|C\w*?)\s*,\s*(R\w*?)\s*\)", circuit):
        r_name = m.group(1) or m.group(4)
        c_name = m.group(2) or m.group(3)
        r = values[r_name]
        if c_name.startswith("CPE"):
            q, a = values[f"{c_name}_Q"], values[f"{c_name}_alpha"]
            f_apex = 1.0 / (2 * np.pi * (r * q) ** (1.0 / a))
            cap = q ** (1.0 / a) * r ** ((1.0 - a) / a)
        else:
            cap = values[c_name]
            f_apex = 1.0 / (2 * np.pi * r * cap)
        out.append({"elements": [r_name, c_name], "apex_frequency_Hz": float(f_apex), "capacitance_F": float(cap)})
    return out


def fit_eis(
    spectrum: Spectrum,
    thickness_mm: float,
    area_cm2: float,
    circuit: str = DEFAULT_CIRCUIT,
    initial_guess: list[float] | None = None,
    bulk_elements: list[str] | None = None,
) -> EISFit:
    """Fit an equivalent circuit to ``spectrum`` and derive R_b and σ.

    Parameters
    ----------
    spectrum : Spectrum
        From :func:`read_spectrum`.
    thickness_mm, area_cm2 : float
        Sample thickness (mm) and electrode area (cm²), both > 0.
    circuit : str
        impedance.py circuit string (default ``R0-p(R1,CPE1)-CPE2``).
    initial_guess : list of float, optional
        One value per circuit parameter (CPE: Q then α). Default: the best of a few
        deterministic guesses from the spectrum (resistors, capacitors and CPEs only).
    bulk_elements : list of str, optional
        Resistors whose sum is the bulk resistance (default: every resistor).

    Raises
    ------
    AnalysisError
        Non-positive geometry, fewer points than parameters, an unknown element or bulk
        resistor, or a fit that does not converge.
    """
    from impedance.models.circuits.fitting import set_default_bounds, wrapCircuit
    from scipy.optimize import OptimizeWarning, curve_fit

    if not (thickness_mm > 0 and np.isfinite(thickness_mm)):
        raise AnalysisError(f"thickness must be positive, got {thickness_mm} mm", hint="--thickness-mm 1.2")
    if not (area_cm2 > 0 and np.isfinite(area_cm2)):
        raise AnalysisError(f"electrode area must be positive, got {area_cm2} cm²", hint="--area-cm2 0.5")
    try:
        names = _param_names(circuit)
    except (ValueError, TypeError, IndexError):
        raise AnalysisError(f"cannot read circuit '{circuit}'", hint="e.g. R0-p(R1,CPE1)-CPE2") from None
    f, z = spectrum.frequency_Hz, spectrum.z_ohm
    if 2 * len(f) <= len(names):
        raise AnalysisError(
            f"{spectrum.source}: {len(f)} frequencies ({2 * len(f)} values) for {len(names)} parameters",
            hint="measure more frequencies or use a simpler circuit",
        )
    resistors = [n for n, k, _ in _elements(circuit) if k == "R"]
    bulk = list(bulk_elements) if bulk_elements else resistors
    unknown = [b for b in bulk if b not in resistors]
    if unknown or not bulk:
        raise AnalysisError(
            f"bulk elements {unknown or bulk} are not resistors of '{circuit}'",
            hint=f"resistors: {', '.join(resistors) or 'none'}",
        )
    if initial_guess is not None:
        if len(initial_guess) != len(names):
            raise AnalysisError(
                f"initial guess has {len(initial_guess)} values, the circuit {len(names)}",
                hint=f"parameters: {', '.join(names)}",
            )
        starts = [np.asarray(initial_guess, dtype=float)]
    else:
        starts = _guesses(circuit, f, z)
    upper = np.asarray(set_default_bounds(circuit)[1], dtype=float)
    model = wrapCircuit(circuit, {})
    y = np.hstack([z.real, z.imag])
    sigma = np.hstack([np.abs(z), np.abs(z)])

    def log_model(freq: np.ndarray, *log_p: float) -> np.ndarray:
        return model(freq, *(10.0 ** np.asarray(log_p)))

    # fitted in log10 of the parameters (all positive; CPE exponents ≤ 1): values that span
    # 1e-12 F to 1e6 Ω are then equally well conditioned
    log_hi = np.where(np.isfinite(upper), np.log10(np.where(np.isfinite(upper), upper, 1.0)), np.inf)
    best = None
    t0 = time.perf_counter()
    for p0 in starts:
        if np.any(p0 <= 0):
            raise AnalysisError("initial guess values must be positive", hint=f"parameters: {', '.join(names)}")
        lp0 = np.minimum(np.log10(p0), log_hi - 1e-6)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                lp, lcov = curve_fit(log_model, f, y, p0=lp0, sigma=sigma, bounds=(-np.inf, log_hi), maxfev=800)
        except (RuntimeError, ValueError, FloatingPointError):
            continue
        chi2 = float(np.sum(((log_model(f, *lp) - y) / sigma) ** 2))
        if np.isfinite(chi2) and (best is None or chi2 < best[2]):
            popt = 10.0**lp
            jac = np.diag(popt * np.log(10.0))  # d p / d log10 p
            best = (popt, jac @ lcov @ jac, chi2)
    elapsed = time.perf_counter() - t0
    if best is None or not np.all(np.isfinite(best[1])):
        raise AnalysisError(
            f"{spectrum.source}: the fit of '{circuit}' did not converge",
            hint="give --initial-guess, or a circuit that matches the spectrum",
        )
    popt, pcov, chi2 = best
    rel = float(np.sqrt(chi2 / len(y)))
    if rel > 0.3:
        raise AnalysisError(
            f"{spectrum.source}: the fit of '{circuit}' did not converge to the spectrum "
            f"(relative residual {100 * rel:.0f} %)",
            hint="check the sign of Z'' and the circuit, or give --initial-guess",
        )
    idx = [names.index(b) for b in bulk]
    r_b = float(popt[idx].sum())
    r_err = float(np.sqrt(pcov[np.ix_(idx, idx)].sum()))
    return EISFit(
        spectrum,
        circuit,
        names,
        popt,
        np.sqrt(np.diag(pcov)),
        pcov,
        bulk,
        r_b,
        r_err,
        float(thickness_mm),
        float(area_cm2),
        _arcs(circuit, names, popt),
        rel,
        elapsed,
    )


@dataclass
class EISSeries:
    """Fits of spectra at several temperatures and their Arrhenius fit (σT or σ)."""

    fits: list[EISFit]
    arrhenius: ArrheniusFit | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``spectra`` (one :meth:`EISFit.to_dict` each) and ``arrhenius``."""
        return {
            "spectra": [f.to_dict() for f in self.fits],
            "arrhenius": None if self.arrhenius is None else self.arrhenius.to_dict(),
        }

    def points(self) -> list[tuple[float, float, float]]:
        """(T in K, σ in S/cm, σ error) of every spectrum with a temperature."""
        return [
            (f.spectrum.temperature_K, f.sigma_S_cm, f.sigma_err_S_cm)
            for f in self.fits
            if f.spectrum.temperature_K is not None
        ]

    def plot(self, ax: Any) -> Any:
        """Arrhenius plot of the measured σ with its fit."""
        if self.arrhenius is None:
            raise AnalysisError("no Arrhenius fit: fewer than two temperatures")
        return self.arrhenius.plot(ax, label="impedance")


def fit_eis_series(
    spectra: list[Spectrum],
    thickness_mm: float,
    area_cm2: float,
    circuit: str = DEFAULT_CIRCUIT,
    initial_guess: list[float] | None = None,
    bulk_elements: list[str] | None = None,
    form: Literal["sigma_T", "sigma"] = "sigma_T",
) -> EISSeries:
    """Fit every spectrum (same sample geometry), then an Arrhenius fit of σ(T) with
    :func:`vitreous.analysis.arrhenius.fit_arrhenius` when two or more temperatures are known.

    Raises
    ------
    AnalysisError
        From :func:`fit_eis`; or several spectra of which some lack a temperature.
    """
    fits = [fit_eis(s, thickness_mm, area_cm2, circuit, initial_guess, bulk_elements) for s in spectra]
    temps = [f.spectrum.temperature_K for f in fits]
    arr = None
    if len(fits) > 1:
        missing = [f.spectrum.source for f in fits if f.spectrum.temperature_K is None]
        if missing:
            raise AnalysisError(f"no temperature for {missing[0]}", hint="give --temperature-K for every file")
        if len(set(temps)) >= 2:
            pts = np.array([(f.spectrum.temperature_K, f.sigma_S_cm, f.sigma_err_S_cm) for f in fits])
            arr = fit_arrhenius(pts[:, 0], pts[:, 1], pts[:, 2], form)
    return EISSeries(fits, arr)
