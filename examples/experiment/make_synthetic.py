"""Write SYNTHETIC measurement files for the vitreous experiment example (not measured data).

Every file says in its header that it is synthetic and which parameters made it, so a fit
can be checked against them. Run from anywhere: ``python examples/experiment/make_synthetic.py``;
the files land next to this script. Deterministic (seed 2025).

- ``nvp28_eis_{423,473,523}K.txt``: impedance spectra of an NVP28-like glass disc
  (thickness 1.00 mm, area 0.50 cm²), circuit R0-p(R1,CPE1)-CPE2 (impedance.py conventions);
  bulk σ follows σT = A exp(−Ea/kT) with Ea = 0.55 eV and σ(473 K) = 3.3e-5 S/cm (the
  study's measured total conductivity, used here only as a plausible magnitude); 1 %
  Gaussian noise on Z' and Z''; the third column is −Z'' as BioLogic writes it.
- ``nvp28_xps_V2p.txt``: V 2p + O 1s region, V4+/(V4+ + V5+) = 0.13 (the study's XPS value
  for NVP28), GL(30) peaks on a Shirley background, Poisson counts.
- ``nvp28_dsc.txt``: heating scan at 10 K/min in °C, endothermic down, Tg midpoint 297 °C
  (error-function step, 7 K wide), sloping baselines, noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from impedance.models.circuits.fitting import wrapCircuit
from scipy.constants import e as ELEMENTARY
from scipy.constants import k as BOLTZMANN
from scipy.special import erf

HERE = Path(__file__).parent
HEADER = "# SYNTHETIC data made by examples/experiment/make_synthetic.py (vitreous): not a measurement\n"
RNG = np.random.default_rng(2025)
THICKNESS_MM, AREA_CM2 = 1.00, 0.50
EA_EV, SIGMA_473 = 0.55, 3.3e-5


def sigma_at(t_k: float) -> float:
    """σ(T) from σT = A exp(−Ea/kT) through σ(473 K)."""
    kb = BOLTZMANN / ELEMENTARY
    return SIGMA_473 * 473.0 / t_k * np.exp(-EA_EV / kb * (1 / t_k - 1 / 473.0))


def eis() -> None:
    f = np.logspace(7, -1, 73)
    for t in (423.0, 473.0, 523.0):
        r_b = (THICKNESS_MM / 10) / (sigma_at(t) * AREA_CM2)
        r0 = 15.0
        p = [r0, r_b - r0, 2.0e-11, 0.88, 1.5e-6, 0.70]
        y = wrapCircuit("R0-p(R1,CPE1)-CPE2", {})(f, *p)
        z = y[: len(f)] * (1 + 0.01 * RNG.normal(size=len(f))) + 1j * y[len(f) :] * (1 + 0.01 * RNG.normal(size=len(f)))
        lines = [HEADER.rstrip(), f"# sample NVP28 disc, thickness {THICKNESS_MM} mm, area {AREA_CM2} cm2",
                 f"# temperature = {t:g} K", f"# true R0 {r0:g} ohm, R1 {r_b - r0:.6g} ohm, CPE1 (2e-11, 0.88), "
                 "CPE2 (1.5e-6, 0.70); bulk R0+R1 " f"{r_b:.6g} ohm",
                 "freq/Hz, Re(Z)/Ohm, -Im(Z)/Ohm"]  # fmt: skip
        lines += [f"{a:.6e}, {b:.6e}, {-c:.6e}" for a, b, c in zip(f, z.real, z.imag, strict=True)]
        (HERE / f"nvp28_eis_{t:g}K.txt").write_text("\n".join(lines) + "\n")


def _gl(x: np.ndarray, centre: float, fwhm: float, area: float, lorentz: float = 0.3) -> np.ndarray:
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    g = np.exp(-((x - centre) ** 2) / (2 * s**2)) / (s * np.sqrt(2 * np.pi))
    lor = (fwhm / 2) / np.pi / ((x - centre) ** 2 + (fwhm / 2) ** 2)
    return area * ((1 - lorentz) * g + lorentz * lor)


def xps() -> None:
    e = np.arange(508.0, 534.0, 0.05)
    f4 = 0.13
    v = 3.0e4
    peaks = (_gl(e, 517.25, 1.35, v * (1 - f4)) + _gl(e, 516.05, 1.6, v * f4)  # V 2p3/2
             + _gl(e, 524.6, 2.3, 0.5 * v * (1 - f4)) + _gl(e, 523.4, 2.6, 0.5 * v * f4)  # V 2p1/2
             + _gl(e, 530.1, 1.4, 9.0e4))  # O 1s  # fmt: skip
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (peaks[1:] + peaks[:-1]) * np.diff(e))])
    counts = RNG.poisson(400.0 + 0.06 * cum + peaks)
    lines = [HEADER.rstrip(), "# V 2p and O 1s region; V4+/(V4+ + V5+) = 0.13; GL(30) peaks, Shirley background",
             "# binding energy (eV), counts"]  # fmt: skip
    lines += [f"{a:.2f}\t{b:d}" for a, b in zip(e[::-1], counts[::-1], strict=True)]  # high to low BE, as recorded
    (HERE / "nvp28_xps_V2p.txt").write_text("\n".join(lines) + "\n")


def dsc() -> None:
    t_c = np.arange(220.0, 380.0, 0.25)
    tg_c, width = 297.0, 7.0
    step = 0.5 * (1 + erf((t_c - tg_c) / (np.sqrt(2) * width)))
    hf = -(0.20 + 1.5e-3 * (t_c - 220) + 0.12 * step) + RNG.normal(0, 0.0015, t_c.size)  # W/g, endo down
    lines = [HEADER.rstrip(), f"# heating 10 K/min, endothermic down, Tg midpoint {tg_c} C (erf step, sigma {width} K)",
             "# Temperature (C); Heat flow (W/g)"]  # fmt: skip
    lines += [f"{a:.2f}; {b:.5f}" for a, b in zip(t_c, hf, strict=True)]
    (HERE / "nvp28_dsc.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    eis()
    xps()
    dsc()
    print(f"wrote synthetic files to {HERE}")
