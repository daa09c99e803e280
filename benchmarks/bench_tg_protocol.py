"""How wide is the Tg interval a continuous NPT cooling gives, and what does it cost? The
measurement behind the built-in quick study's [tg_scan] choice.

Makes the quick study's glass (NVP28, 405 atoms, BMP + PPPM, its melt-quench schedule),
then cools it continuously in NPT from ``--t-high`` to ``--t-low`` at each rate, and prints Tg
from enthalpy and from volume (25 K windows, two-line fit, 95 % residual bootstrap), the
width of the interval and the wall time.

Usage: python benchmarks/bench_tg_protocol.py [rate_K_per_ps ...] [--t-high 2000] [--t-low 500]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from vitreous.analysis.thermal import tg_from_source
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD
from vitreous.potentials import load_forcefield
from vitreous.protocols import melt_quench, tg_cooling


def main(rates: list[float], t_high: float, t_low: float) -> None:
    preset = get_preset("NVP28")
    ff = load_forcefield("bmp")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        atoms = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=1)
        mq = melt_quench(3000.0, 5.0, 200.0, 300.0, 3.0, relax_ps=1.0, trajectory_every=0)
        glass = LammpsMD(atoms, ff, mq, tmp / "mq", seed=1).run(False).final_atoms
        print(f"NVP28 405 atoms, BMP + PPPM; NPT cooling {t_high:g} -> {t_low:g} K after 2 ps at {t_high:g} K")
        for rate in rates:
            t0 = time.perf_counter()
            res = LammpsMD(glass, ff, tg_cooling(t_high, t_low, rate), tmp / f"tg-{rate:g}", seed=1).run(False)
            wall = time.perf_counter() - t0
            for q in ("enthalpy", "volume"):
                fit = tg_from_source(res.trajectory, q)
                lo, hi = fit.interval_K
                print(
                    f"  {rate:6g} K/ps {q:9s}: Tg {fit.Tg_K:6.0f} K, 95 % [{lo:.0f}, {hi:.0f}] "
                    f"(half-width {(hi - lo) / 2:.0f} K); run {wall:.0f} s"
                )
            sys.stdout.flush()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("rates", type=float, nargs="*", default=[100.0, 50.0], help="K/ps")
    ap.add_argument("--t-high", type=float, default=2000.0)
    ap.add_argument("--t-low", type=float, default=500.0)
    a = ap.parse_args()
    main(a.rates, a.t_high, a.t_low)
