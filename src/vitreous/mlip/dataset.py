"""Labelled data sets for machine-learned potentials: frame selection, labelling by a named
reference, deterministic splits, extxyz with ASE's standard keys, and error metrics.

Frames are chosen from trajectories stratified by their temperature (equal shares per
temperature bin) and, within each stratum, diverse by farthest-point sampling on a structural
descriptor: the per-frame histograms of every element pair's distances to 6 Å (a partial
g(r) without normalisation), scaled per pair. Every labelled frame carries its provenance in
``atoms.info``: ``reference`` (what produced the labels — ``classical:<set>``, ``cp2k:<preset>``
(DFT) or ``teacher:<model>``, never conflated), ``source`` (trajectory and frame), and the
temperature of origin.

Labels use ASE's extxyz keys: ``energy`` (eV), ``forces`` (eV/Å), ``stress`` (eV/Å³, ASE
sign) and ``virial`` (3×3, eV; W = −σ V).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import AnalysisError, InputFileError

__all__ = [
    "TEACHERS",
    "descriptor",
    "error_metrics",
    "label_frames",
    "read_dataset",
    "select_diverse",
    "select_frames",
    "split",
    "teacher_calculator",
    "trajectory_frames",
    "write_dataset",
]

DESCRIPTOR_R_MAX_A = 6.0
DESCRIPTOR_BIN_A = 0.1


def descriptor(atoms: Atoms, r_max_A: float = DESCRIPTOR_R_MAX_A, bin_A: float = DESCRIPTOR_BIN_A) -> np.ndarray:
    """Concatenated per-pair distance histograms (counts per atom pair type and bin, divided
    by the number of atoms) of a periodic structure: a cheap, permutation-invariant
    structural fingerprint for diversity selection."""
    from vesin import NeighborList

    sym = np.array(atoms.get_chemical_symbols())
    elements = sorted(set(sym))
    i, j, d = NeighborList(cutoff=r_max_A, full_list=False).compute(
        points=atoms.positions, box=atoms.cell.array, periodic=True, quantities="ijd"
    )
    edges = np.arange(0.0, r_max_A + bin_A / 2, bin_A)
    parts = []
    for a_i, a in enumerate(elements):
        for b in elements[a_i:]:
            m = ((sym[i] == a) & (sym[j] == b)) | ((sym[i] == b) & (sym[j] == a))
            parts.append(np.histogram(d[m], bins=edges)[0] / len(atoms))
    return np.concatenate(parts)


def _farthest_points(x: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Greedy farthest-point sampling of ``n`` rows of ``x`` (Euclidean), random first row."""
    n = min(n, len(x))
    if n == 0:
        return []
    chosen = [int(rng.integers(len(x)))]
    dist = np.linalg.norm(x - x[chosen[0]], axis=1)
    while len(chosen) < n:
        k = int(np.argmax(dist))
        chosen.append(k)
        dist = np.minimum(dist, np.linalg.norm(x - x[k], axis=1))
    return chosen


def select_frames(
    trajectories: Sequence[str | os.PathLike],
    n_frames: int,
    seed: int = 0,
    temperature_bin_K: float = 200.0,
) -> list[Atoms]:
    """Choose ``n_frames`` diverse frames from trajectories (H5MD with thermo, or any file
    :func:`vitreous.io.trajectory.open_trajectory` reads).

    Frames are grouped by temperature (the nearest thermo row's T, in ``temperature_bin_K``
    bins; one group when unknown), each group gets an equal share, and within a group frames
    are picked by farthest-point sampling on :func:`descriptor` (scaled per feature).

    Returns
    -------
    list of ase.Atoms
        Copies with ``info`` keys ``source`` (``path#frame``) and ``temperature_K``.
    """
    if n_frames <= 0:
        raise AnalysisError(f"n_frames must be positive, got {n_frames}")
    if not trajectories:
        raise InputFileError("no trajectories given")
    return select_diverse(trajectory_frames(trajectories), n_frames, seed, temperature_bin_K)


def trajectory_frames(trajectories: Sequence[str | os.PathLike]) -> list[Atoms]:
    """Every frame of the trajectories, wrapped, with ``source`` and ``temperature_K`` (the
    temperature the run's thermo had at that frame, K; NaN where it has none)."""
    from vitreous.io.trajectory import open_trajectory

    pool: list[Atoms] = []
    for path in trajectories:
        with open_trajectory(path) as traj:
            temps = np.full(len(traj), np.nan)
            obs = traj.observables() if hasattr(traj, "observables") else {}
            if obs and len(obs.get("step", [])):
                steps = np.asarray(traj.steps)
                k = np.clip(np.searchsorted(obs["step"], steps), 0, len(obs["step"]) - 1)
                temps = np.asarray(obs["temperature"])[k]
            for f in range(len(traj)):
                a = traj[f]
                a.wrap()
                a.info = {"source": f"{Path(path).name}#{f}", "temperature_K": float(temps[f])}
                pool.append(a)
    if not pool:
        raise InputFileError("the trajectories hold no frames")
    return pool


def select_diverse(
    pool: Sequence[Atoms], n_frames: int, seed: int = 0, temperature_bin_K: float = 200.0
) -> list[Atoms]:
    """Choose ``n_frames`` of ``pool``: equal shares per ``temperature_bin_K`` bin of
    ``info['temperature_K']`` (one group where unknown), farthest-point sampling on
    :func:`descriptor` within each. Returns copies in pool order."""
    if n_frames <= 0:
        raise AnalysisError(f"n_frames must be positive, got {n_frames}")
    if not pool:
        raise AnalysisError("no frames to choose from")
    x = np.array([descriptor(a) for a in pool])
    x = x / np.maximum(x.std(axis=0), 1e-12)
    t = np.array([float(a.info.get("temperature_K", np.nan)) for a in pool])
    groups = np.where(np.isfinite(t), np.floor(np.nan_to_num(t) / temperature_bin_K), -1).astype(int)
    rng = np.random.default_rng(seed)
    keys = sorted(set(groups.tolist()))
    share = [n_frames // len(keys) + (1 if k < n_frames % len(keys) else 0) for k in range(len(keys))]
    chosen: list[int] = []
    for key, n in zip(keys, share, strict=True):
        idx = np.flatnonzero(groups == key)
        chosen += [int(idx[k]) for k in _farthest_points(x[idx], n, rng)]
    return [pool[k].copy() for k in sorted(chosen)]


def split(
    frames: Sequence[Atoms], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[Atoms], list[Atoms], list[Atoms]]:
    """Deterministic train/validation/test split (a permutation from ``seed``); each part has
    at least one frame when there are three or more."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise AnalysisError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    n = len(frames)
    if n < 3:
        raise AnalysisError(f"a split needs at least 3 frames, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(fractions[1] * n))
    n_test = max(1, round(fractions[2] * n))
    n_train = n - n_val - n_test
    if n_train < 1:
        raise AnalysisError(f"{n} frames leave none for training with fractions {fractions}")
    parts = np.split(order, [n_train, n_train + n_val])
    return tuple([frames[int(k)] for k in p] for p in parts)  # type: ignore[return-value]


#: universal MLIPs whose weights ship inside their wheels (usable offline), as teachers
TEACHERS = {
    "chgnet": "CHGNet 0.3 (chgnet package; trained on MPtrj, PBE/PBE+U)",
    "7net-0": "SevenNet-0 (sevenn package; MPtrj, PBE/PBE+U)",
    "7net-mf-0": "SevenNet-MF-0, r2SCAN fidelity (sevenn package)",
    "7net-l3i5": "SevenNet-l3i5 (sevenn package; MPtrj)",
}


def teacher_calculator(name: str, threads: int = 1) -> Any:
    """ASE calculator of a universal MLIP teacher (:data:`TEACHERS`). Its labels are the
    teacher's, never DFT: every frame it labels says ``reference = teacher:<name>``."""
    if name not in TEACHERS:
        raise AnalysisError(f"unknown teacher '{name}'", hint=f"one of {', '.join(TEACHERS)}")
    try:
        import torch

        torch.set_num_threads(threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU when there is one; nothing needs it
        if name == "chgnet":
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(use_device=device, check_cuda_mem=False)
        from sevenn.calculator import SevenNetCalculator

        if name == "7net-mf-0":
            return SevenNetCalculator(name, modal="R2SCAN", device=device)
        return SevenNetCalculator(name, device=device)
    except ImportError as exc:
        raise AnalysisError(
            f"teacher '{name}' needs its package ({exc.name})",
            hint="pip install 'vitreous[teacher]' (CHGNet) or sevenn in an environment without MACE",
        ) from None


def label_frames(frames: Sequence[Atoms], reference: str, workdir: str | os.PathLike, **options: Any) -> list[Atoms]:
    """Energy, forces, stress and virial of each frame from a named reference.

    Parameters
    ----------
    reference : str
        ``classical:<force field>`` (in-process LAMMPS; options ``coulomb``, ``threads``) or
        ``cp2k:<preset>`` (DFT through a CP2K shell; options ``ranks``, ``threads``).
        ``teacher:<model>`` (a universal MLIP of :data:`TEACHERS`; its package installed).
    progress : callable, optional
        (Keyword option) called with (done, total) after every frame.
    workdir : path
        Folder for the engines' files.

    Returns
    -------
    list of ase.Atoms
        Copies with ``info['energy']``, ``info['stress']``, ``info['virial']``,
        ``arrays['forces']`` and ``info['reference']``.
    """
    kind, _, name = reference.partition(":")
    if not name:
        raise AnalysisError(
            f"cannot read reference '{reference}'", hint="classical:<set>, cp2k:<preset> or teacher:<model>"
        )
    if kind == "classical":
        from vitreous.engines.lammps_calculator import LammpsCalculator
        from vitreous.potentials import Coulomb, load_forcefield

        calc = LammpsCalculator(
            load_forcefield(name), options.get("coulomb") or Coulomb(), options.get("threads", 1), workdir=workdir
        )
    elif kind == "cp2k":
        from vitreous.engines.cp2k import load_dft_settings
        from vitreous.engines.cp2k_calculator import CP2KCalculator

        calc = CP2KCalculator(load_dft_settings(name), workdir, options.get("ranks", 1), options.get("threads", 1))
    elif kind == "teacher":
        calc = teacher_calculator(name, options.get("threads", 1))
    else:
        raise AnalysisError(f"unknown reference kind '{kind}'", hint="classical, cp2k or teacher")
    if not frames:
        raise AnalysisError("no frames to label")
    return evaluate_with(frames, calc, reference, options.get("progress"))


def evaluate_with(
    frames: Sequence[Atoms],
    calc: Any,
    reference: str,
    progress: Any = None,
    keep_info: Sequence[str] | None = None,
) -> list[Atoms]:
    """Copies of ``frames`` with energy (eV), forces (eV/Å), stress (eV/Å³) and virial (eV,
    W = −σV) from ``calc`` and ``info['reference'] = reference``; the calculator is closed
    afterwards. With ``keep_info`` only those ``info`` keys survive. ``progress(done, total)``
    after every frame."""
    out = []
    try:
        for k, a in enumerate(frames):
            b = a.copy()
            b.calc = calc
            energy = float(b.get_potential_energy())
            forces = np.array(b.get_forces())
            stress = np.array(b.get_stress(voigt=False))
            b.calc = None
            if keep_info is not None:
                b.info = {key: v for key, v in a.info.items() if key in keep_info}
            virial = -stress * b.get_volume()
            b.info.update({"energy": energy, "stress": stress, "virial": virial, "reference": reference})
            b.arrays["forces"] = forces
            out.append(b)
            if progress is not None:
                progress(k + 1, len(frames))
    finally:
        close = getattr(calc, "close", None)
        if callable(close):
            close()
    return out


def write_dataset(frames: Sequence[Atoms], path: str | os.PathLike) -> Path:
    """Write labelled frames to extxyz (ASE's standard keys, provenance in the comment line)."""
    from ase.io import write

    if not frames:
        raise AnalysisError("an empty data set")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, list(frames), format="extxyz")
    return path


def read_dataset(path: str | os.PathLike, labelled: bool = True) -> list[Atoms]:
    """Read an extxyz data set; with ``labelled`` (default) every frame needs ``energy`` and
    ``forces``, else frames still to be labelled are accepted."""
    from ase.io import read
    from ase.stress import voigt_6_to_full_3x3_stress

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} holds no frames", hint="an empty data set")
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as exc:
        raise InputFileError(f"cannot read {path} as extxyz: {exc}") from None
    if not frames:
        raise InputFileError(f"{path} holds no frames", hint="an empty data set")
    for a in frames:  # ASE moves energy/forces/stress into a SinglePointCalculator on reading
        results = dict(a.calc.results) if a.calc is not None else {}
        a.calc = None
        if "energy" in results:
            a.info["energy"] = float(results["energy"])
        if "forces" in results:
            a.arrays["forces"] = np.array(results["forces"])
        if "stress" in results:
            st = np.asarray(results["stress"], dtype=float)
            a.info["stress"] = voigt_6_to_full_3x3_stress(st) if st.shape == (6,) else st.reshape(3, 3)
        if "virial" in a.info:
            a.info["virial"] = np.asarray(a.info["virial"], dtype=float).reshape(3, 3)
    for k, a in enumerate(frames if labelled else []):
        missing = [key for key in ("energy",) if key not in a.info] + [
            key for key in ("forces",) if key not in a.arrays
        ]
        if missing:
            raise InputFileError(f"{path} frame {k} lacks {', '.join(missing)}", hint="label it first")
    return frames


def error_metrics(reference: Sequence[Atoms], predicted: Sequence[Atoms]) -> dict[str, Any]:
    """RMSE and MAE of energy per atom (meV/atom), force components (eV/Å; also per element)
    and virial per atom (meV/atom), predicted against reference labels of the same frames."""
    if len(reference) != len(predicted) or not reference:
        raise AnalysisError(f"{len(reference)} reference and {len(predicted)} predicted frames")
    de, df, dv, species = [], [], [], []
    for r, p in zip(reference, predicted, strict=True):
        if r.get_chemical_symbols() != p.get_chemical_symbols():
            raise AnalysisError("reference and prediction hold different atoms")
        n = len(r)
        de.append((p.info["energy"] - r.info["energy"]) / n)
        df.append(p.arrays["forces"] - r.arrays["forces"])
        species += r.get_chemical_symbols()
        if "virial" in r.info and "virial" in p.info:
            dv.append((np.asarray(p.info["virial"]) - np.asarray(r.info["virial"])).ravel() / n)
    de_a, df_a = np.array(de) * 1000.0, np.concatenate(df)
    sp = np.array(species)

    def rmse(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.square(x))))

    out: dict[str, Any] = {
        "n_frames": len(reference),
        "energy_rmse_meV_atom": rmse(de_a),
        "energy_mae_meV_atom": float(np.mean(np.abs(de_a))),
        "forces_rmse_eV_A": rmse(df_a),
        "forces_mae_eV_A": float(np.mean(np.abs(df_a))),
        "forces_rmse_eV_A_by_element": {el: rmse(df_a[sp == el]) for el in sorted(set(species))},
    }
    if dv:
        dv_a = np.concatenate(dv) * 1000.0
        out["virial_rmse_meV_atom"] = rmse(dv_a)
        out["virial_mae_meV_atom"] = float(np.mean(np.abs(dv_a)))
    return out
