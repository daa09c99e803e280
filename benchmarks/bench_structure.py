"""All partials + coordination + S(k) for an NVP28 frame: vitreous per-frame time vs freud
RDF (all element pairs) and ASE get_rdf (all element pairs), same frame, same run; and
vitreous' scaling with N up to 30 000 atoms.

Usage: python benchmarks/bench_structure.py [--sizes 3240 30000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vitreous.analysis.network import network_analysis
from vitreous.analysis.rdf import PairDistribution
from vitreous.analysis.scattering import total_structure_factor
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.io.trajectory import FrameTrajectory


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[3240, 30000])
    ap.add_argument("--r-max", type=float, default=8.0)
    ap.add_argument("--dr", type=float, default=0.02)
    args = ap.parse_args()
    preset = get_preset("NVP28")
    k = np.arange(0.3, 20, 0.02)
    print(f"NVP28 random frame, r_max {args.r_max} Å, dr {args.dr} Å, 2 cores; best of 3")
    for n in args.sizes:
        atoms = random_glass(counts(preset.composition, n), preset.density_g_cm3, seed=1)
        traj = FrameTrajectory([atoms])
        frames = np.array([0])

        def ours():
            rdf = PairDistribution(args.r_max, args.dr, split_valence=False).compute(traj, frames)
            network_analysis(traj, frames, {("V", "O"): 2.4, ("P", "O"): 1.9, ("Na", "O"): 3.0})
            total_structure_factor(rdf, k, "xray")

        def ours_rdf():
            PairDistribution(args.r_max, args.dr, split_valence=False).compute(traj, frames)

        t_ours, t_rdf = best_of(ours), best_of(ours_rdf)
        line = f"{len(atoms):6d} atoms: vitreous full set {t_ours:7.3f} s (partials alone {t_rdf:6.3f} s)"
        try:
            import freud

            box = freud.box.Box.from_matrix(atoms.cell.array.T)
            pos = box.wrap(atoms.positions - 0.5 * atoms.cell.array.sum(axis=0))
            sym = np.array(atoms.get_chemical_symbols())
            els = list(dict.fromkeys(sym))

            def freud_all():
                for i, a in enumerate(els):
                    for b in els[i:]:
                        rdf = freud.density.RDF(bins=int(args.r_max / args.dr), r_max=args.r_max)
                        if a == b:
                            rdf.compute((box, pos[sym == b]))
                        else:
                            rdf.compute((box, pos[sym == b]), query_points=pos[sym == a])

            t_freud = best_of(freud_all)
            line += f"; freud partials {t_freud:7.3f} s, ratio ours(partials)/freud {t_rdf / t_freud:.2f}"
        except ImportError:
            line += "; freud absent"
        if n <= 5000:
            from ase.geometry.rdf import get_rdf

            els_ = list(dict.fromkeys(atoms.get_chemical_symbols()))
            from ase.data import atomic_numbers

            def ase_all():
                for i, a in enumerate(els_):
                    for b in els_[i:]:
                        get_rdf(
                            atoms,
                            args.r_max,
                            int(args.r_max / args.dr),
                            elements=(atomic_numbers[a], atomic_numbers[b]),
                        )

            t_ase = best_of(ase_all, 1)
            line += f"; ASE get_rdf partials {t_ase:7.2f} s, ratio ours(partials)/ASE {t_rdf / t_ase:.3f}"
        print(line)


if __name__ == "__main__":
    main()
