"""MSD of the Na ions of a 3240-atom NVP28-sized trajectory: vitreous (FFT over every lag,
streamed over atoms from the H5MD file) vs kinisi (same trajectory, same species), wall time
and peak memory (tracemalloc of Python allocations, numpy included) in the same run.

Fair use of kinisi: its input (wrapped ASE frames, which its ``from_ase`` reads) is built
outside its timer; only ``DiffusionAnalyzer.from_ase`` (unwrapping, displacements, MSD at
the chosen intervals) is timed. kinisi's Bayesian D estimate (``.diffusion``) is extra work
vitreous does not do, so it is left out of both timers. Same process, same threads; repeats
alternate the order. The trajectory is synthetic (random walks), written once to a
temporary H5MD file.

Usage: python benchmarks/bench_msd.py [--frames 4000] [--atoms 3240] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms

from vitreous.analysis.dynamics import fit_diffusion, msd_per_atom
from vitreous.io.h5md import H5MDTrajectory, H5MDWriter


def make_h5(path: Path, n_atoms: int, n_frames: int, dt_ps: float) -> None:
    n_na = round(n_atoms * 317 / 3227)
    atoms = Atoms(f"Na{n_na}O{n_atoms - n_na}", positions=np.zeros((n_atoms, 3)), cell=[35.0] * 3, pbc=True)
    rng = np.random.default_rng(0)
    x = rng.random((n_atoms, 3)) * 35
    with H5MDWriter(path, "w", atoms=atoms) as w:
        block = 1000
        for start in range(0, n_frames, block):
            n = min(block, n_frames - start)
            steps = rng.normal(scale=0.05, size=(n, n_atoms, 3))
            traj = x + np.cumsum(steps, axis=0)
            x = traj[-1]
            idx = np.arange(start, start + n)
            w.append_frames(idx, idx * dt_ps, traj, np.broadcast_to(np.eye(3) * 35, (n, 3, 3)))


def measure(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, wall, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=4000)
    ap.add_argument("--atoms", type=int, default=3240)
    ap.add_argument("--dt-ps", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traj.h5"
        make_h5(path, args.atoms, args.frames, args.dt_ps)
        with H5MDTrajectory(path) as traj:
            na = np.flatnonzero(np.array(traj.symbols) == "Na")
            # kinisi's input, prepared outside its timer: wrapped ASE frames, as its
            # from_ase documentation expects
            frames = []
            for i in range(len(traj)):
                a = traj[i]
                a.wrap()
                frames.append(a)
            # kinisi's recommended use: MSD at a set of time intervals (here 100 log-spaced)
            lags = np.unique(np.geomspace(1, len(traj) // 2, 100).astype(int)) * args.dt_ps

            def ours():
                t, msd, _ = msd_per_atom(traj, na)
                return fit_diffusion(t, msd.sum(axis=2)).D_A2_ps

            def theirs():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return DiffusionAnalyzer.from_ase(
                        frames,
                        specie="Na",
                        time_step=sc.scalar(args.dt_ps, unit="ps"),
                        step_skip=sc.scalar(1),
                        dt=sc.array(dims=["time interval"], values=lags, unit="ps"),
                        progress=False,
                    )

            print(f"{args.atoms} atoms ({len(na)} Na) x {args.frames} frames, {args.repeats} repeats, alternating")
            print("  vitreous: every lag by FFT, streamed from the H5MD file, + D fit (reading the file included)")
            print("  kinisi:   DiffusionAnalyzer.from_ase on in-memory ASE frames, MSD at 100 log-spaced lags")
            t_ours, t_theirs, m_ours, m_theirs = [], [], 0.0, 0.0
            for r in range(args.repeats):
                order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
                for who in order:
                    if who == "ours":
                        d_ours, t, m = measure(ours)
                        t_ours.append(t)
                        m_ours = max(m_ours, m)
                    else:
                        _, t, m = measure(theirs)
                        t_theirs.append(t)
                        m_theirs = max(m_theirs, m)
            mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
            print(f"  vitreous: {mo:8.2f} s (median), peak {m_ours:8.1f} MiB, D {d_ours:.4g} Å²/ps")
            print(f"  kinisi:   {mt:8.2f} s (median), peak {m_theirs:8.1f} MiB")
            print(f"  ratio time vitreous/kinisi {mo / mt:.2f}, memory {m_ours / m_theirs:.2f}")


if __name__ == "__main__":
    main()
