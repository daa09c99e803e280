"""All element-pair partial g(r) with running coordination, per frame: vitreous against
freud on the same frames, same thread count, in the same run.

Fair use of freud (as its documentation and examples do): one ``freud.density.RDF`` per
element pair built once outside the timer (its constructor allocates the bins), then
``compute(..., reset=False)`` frame after frame; boxes and wrapped positions prepared outside
the timer. vitreous: one ``PairDistribution`` built once, ``compute`` over the same frames
(in-memory trajectory). Both produce g(r) and n(r) for the 10 unordered pairs of Na, V, P, O.
Thread counts set for both (``freud.parallel.set_num_threads``, numba's threads). Repeats
alternate the order; the median per frame is reported.

Usage: python benchmarks/bench_structure.py [--sizes 3240 30000] [--threads 1 2] [--frames 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from vitreous.analysis._pairhist import set_threads
from vitreous.analysis.rdf import PairDistribution
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.io.trajectory import FrameTrajectory


def frames_of(n_atoms: int, n_frames: int) -> list:
    preset = get_preset("NVP28")
    base = random_glass(counts(preset.composition, n_atoms), preset.density_g_cm3, seed=1)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_frames):
        a = base.copy()
        a.positions += rng.normal(scale=0.3, size=a.positions.shape)
        out.append(a)
    return out


def main() -> None:
    import freud

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[3240, 30000])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--r-max", type=float, default=8.0)
    ap.add_argument("--dr", type=float, default=0.02)
    args = ap.parse_args()
    bins = round(args.r_max / args.dr)
    print(f"NVP28 frames, r_max {args.r_max} Å, dr {args.dr} Å, {args.frames} frames, median of {args.repeats}")
    for n in args.sizes:
        atoms = frames_of(n, args.frames)
        traj = FrameTrajectory(atoms)
        idx = np.arange(len(atoms))
        sym = np.array(atoms[0].get_chemical_symbols())
        els = list(dict.fromkeys(sym))
        pairs = [(a, b) for i, a in enumerate(els) for b in els[i:]]
        prepared = []
        for a in atoms:
            box = freud.box.Box.from_matrix(a.cell.array.T)
            prepared.append((box, box.wrap(a.positions - 0.5 * a.cell.array.sum(axis=0))))
        rdfs = {p: freud.density.RDF(bins=bins, r_max=args.r_max) for p in pairs}
        ours_pd = PairDistribution(args.r_max, args.dr, split_valence=False)

        def theirs():
            for (a, b), rdf in rdfs.items():
                for k, (box, pos) in enumerate(prepared):
                    if a == b:
                        rdf.compute((box, pos[sym == b]), reset=k == 0)
                    else:
                        rdf.compute((box, pos[sym == b]), query_points=pos[sym == a], reset=k == 0)
                _ = rdf.rdf, rdf.n_r

        def ours():
            res = ours_pd.compute(traj, idx)
            for a, b in pairs:
                res.running_coordination(f"{a}-{b}")

        for threads in args.threads:
            freud.parallel.set_num_threads(threads)
            set_threads(threads)
            ours(), theirs()  # warm-up (numba compile or cache load, freud first call)
            t_ours, t_theirs = [], []
            for r in range(args.repeats):
                for who in ((ours, t_ours), (theirs, t_theirs)) if r % 2 == 0 else ((theirs, t_theirs), (ours, t_ours)):
                    t0 = time.perf_counter()
                    who[0]()
                    who[1].append((time.perf_counter() - t0) / len(atoms))
            mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
            print(
                f"  {n:6d} atoms, {threads} thread(s): vitreous {1000 * mo:8.1f} ms/frame, freud {1000 * mt:8.1f} "
                f"ms/frame, ratio vitreous/freud {mo / mt:.2f}; vitreous {1e6 * mo / n:.2f} µs/atom"
            )


if __name__ == "__main__":
    main()
