"""Parsers of CP2K (2023.1) outputs → numbers in vitreous units and ``ase.Atoms`` frames.

Energies eV (Hartree from ASE's CODATA), forces eV/Å, stress GPa as CP2K prints it
(positive = compressive, the negative of ASE's sign convention), virial eV with the GAP/ASE
extxyz convention W = −V σ_ASE = V σ_CP2K.

Training frames (extxyz) carry ``info["energy"]`` (eV), ``arrays["forces"]`` (eV/Å),
``info["virial"]`` (eV, 3×3) and ``info["stress"]`` (eV/Å³, ASE sign), plus
``info["config_type"]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr, GPa, Hartree

from vitreous.errors import InputFileError
from vitreous.units import A_PS_PER_ASE_VELOCITY, ATOMIC_TIME_S, FS_TO_PS

__all__ = [
    "bomd_to_h5md",
    "forces_sum_printed",
    "parse_output",
    "read_input_cell",
    "read_md_frames",
    "read_optimized",
    "read_wannier",
    "training_frames",
]

_FLOAT = r"[-+]?\d*\.\d+(?:[EeDd][-+]?\d+)?"


def _energy(text: str) -> float | None:
    m = re.findall(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+(" + _FLOAT + ")", text)
    return float(m[-1]) * Hartree if m else None


def _forces(text: str, n: int) -> np.ndarray | None:
    blocks = re.split(r"ATOMIC FORCES in \[a\.u\.\]", text)
    if len(blocks) < 2:
        return None
    rows = re.findall(
        r"^\s+\d+\s+\d+\s+[A-Z][a-z]?\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")", blocks[-1], re.M
    )[:n]
    if len(rows) != n:
        return None
    return np.array(rows, dtype=float) * Hartree / Bohr


def _stress(text: str) -> np.ndarray | None:
    idx = text.rfind("STRESS| Analytical stress tensor [GPa]")
    if idx < 0:
        return None
    rows = re.findall(r"STRESS\|\s+[xyz]\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")", text[idx:])[:3]
    return np.array(rows, dtype=float) if len(rows) == 3 else None


def _atom_table(text: str, header: str, n_columns: int, n: int) -> np.ndarray | None:
    """The last ``header`` block's per-atom rows (index, element, kind, then ``n_columns``
    numbers) as an (n, n_columns) array; None when the block is missing or short."""
    idx = text.rfind(header)
    if idx < 0:
        return None
    pattern = r"^\s+\d+\s+[A-Z][a-z]?\s+\d+" + rf"\s+({_FLOAT})" * n_columns + r"\s*$"
    rows = re.findall(pattern, text[idx:], re.M)[:n]
    return np.array(rows, dtype=float) if len(rows) == n else None


def _populations(text: str, n: int) -> dict[str, np.ndarray]:
    out = {}
    mulliken = _atom_table(text, "Mulliken Population Analysis", 4, n)  # alpha, beta, charge, spin
    if mulliken is not None:
        out["mulliken_charge"] = mulliken[:, 2]
        out["mulliken_spin"] = mulliken[:, 3]
    hirshfeld = _atom_table(text, "Hirshfeld Charges", 5, n)  # ref, alpha, beta, spin, charge
    if hirshfeld is not None:
        out["hirshfeld_spin"] = hirshfeld[:, 3]
        out["hirshfeld_charge"] = hirshfeld[:, 4]
    return out


#: One SCF iteration line of CP2K's log: step, method (OT minimiser or mixing/diagonalisation),
#: seconds, convergence (absent on OT line-search lines) and total energy (Ha).
SCF_LINE = re.compile(
    r"^\s+(?P<step>\d+)\s+(?P<method>OT \S+|(?:P_Mix|Broy\.|NoMix|DIIS)/Diag\.)\s+\S+\s+(?P<time>\d+\.\d+)\s+"
    r"(?:(?P<conv>\d\.\d+(?:E[-+]\d+)?)\s+)?(?P<energy>-?\d+\.\d+)"
)


def scf_lines(text: str) -> list[dict[str, Any]]:
    """Every SCF iteration CP2K printed, in order: ``step``, ``method``, ``time_s``,
    ``convergence`` (None on OT line-search lines) and ``energy_Ha``."""
    rows = []
    for line in text.splitlines():
        m = SCF_LINE.match(line)
        if m:
            rows.append(
                {
                    "step": int(m["step"]),
                    "method": m["method"],
                    "time_s": float(m["time"]),
                    "convergence": float(m["conv"]) if m["conv"] else None,
                    "energy_Ha": float(m["energy"]),
                }
            )
    return rows


def _scf_steps(text: str) -> list[int]:
    """Number of SCF iterations of each converged SCF (inner steps summed over outer loops)."""
    steps: list[int] = []
    pattern = r"(outer SCF loop converged in\s+\d+ iterations or\s+(\d+) steps)|SCF run converged in\s+(\d+) steps"
    for m in re.finditer(pattern, text):
        if m.group(1):  # follows the last inner loop's message: the total of this SCF
            if steps:
                steps[-1] = int(m.group(2))
        else:
            steps.append(int(m.group(3)))
    return steps


def read_wannier(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Wannier centres and the ions they belong with, from a CP2K IONS+CENTERS xyz file.

    Returns
    -------
    centres : list of ndarray
        Centres (Å, ``X`` entries) of each frame; one frame per spin channel for UKS.
    ions : ndarray
        Ion positions (Å) of the first frame: the frame the centres are in (CP2K may have
        shifted a molecule into its box), to be used instead of the input positions.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no Wannier centres file {path}", hint="run with --wannier")
    lines = path.read_text().splitlines()
    frames, ions, i = [], None, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i].split()[0])
        block = [ln.split() for ln in lines[i + 2 : i + 2 + n]]
        frames.append(np.array([[float(x) for x in b[1:4]] for b in block if b[0] == "X"]))
        if ions is None:
            ions = np.array([[float(x) for x in b[1:4]] for b in block if b[0] != "X"])
        i += 2 + n
    return frames, ions


def read_input_cell(inp: str | Path) -> np.ndarray:
    """The &CELL vectors A, B, C (Å) of a CP2K input written by vitreous."""
    rows = re.findall(
        r"^\s+([ABC])\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s*$", Path(inp).read_text(), re.M
    )
    if len(rows) < 3:
        raise InputFileError(f"no cell in {inp}")
    return np.array([r[1:] for r in rows[:3]], dtype=float)


def forces_sum_printed(out: str | Path) -> np.ndarray | None:
    """CP2K's own "SUM OF ATOMIC FORCES" (eV/Å) of the last force block, for checks."""
    m = re.findall(
        r"SUM OF ATOMIC FORCES\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")",
        Path(out).read_text(errors="replace"),
    )
    return np.array(m[-1], dtype=float) * Hartree / Bohr if m else None


def parse_output(out: str | Path, run_dir: str | Path, atoms: Atoms) -> dict[str, Any]:
    """Energy, forces, stress/virial, spin populations, Wannier centres, SCF steps."""
    text = Path(out).read_text(errors="replace")
    n = len(atoms)
    res: dict[str, Any] = {"energy_eV": _energy(text), "scf_steps": _scf_steps(text)}
    f = _forces(text, n)
    if f is not None:
        res["forces_eV_A"] = f
    s = _stress(text)
    if s is not None:
        res["stress_GPa"] = s
        res["virial_eV"] = s * GPa * atoms.get_volume()  # W = V σ_CP2K (σ in eV/Å³)
    res.update(_populations(text, n))
    t = re.findall(r"SCF iteration.*?\n(.*?)(?:\*\*\*|\n\n)", text, re.S)
    res["n_scf_blocks"] = len(t)
    wfile = Path(run_dir) / "wannier.xyz"
    if wfile.is_file():
        res["wannier_centres_A"] = read_wannier(wfile)[0]
    m = re.findall(r"Integrated absolute spin density\s*:\s*(" + _FLOAT + ")", text)
    if m:
        res["abs_spin_density"] = float(m[-1])
    return res


def read_optimized(out: str | Path, run_dir: str | Path, atoms: Atoms, project: str = "vitreous") -> tuple[Atoms, bool]:
    """Last geometry of a CP2K GEO_OPT (``<project>-pos-1.xyz``, Å) as a copy of ``atoms``,
    and whether CP2K reported the optimisation converged (False when it stopped at MAX_ITER)."""
    import ase.io

    pos = Path(run_dir) / f"{project}-pos-1.xyz"
    if not pos.is_file():
        raise InputFileError(f"no optimisation trajectory {pos}", hint="run a GEO_OPT first")
    last = ase.io.read(pos, index=-1, format="xyz")
    if len(last) != len(atoms):
        raise InputFileError(f"{pos} has {len(last)} atoms, the structure {len(atoms)}")
    final = atoms.copy()
    final.set_positions(last.positions)
    text = Path(out).read_text(errors="replace")
    return final, "GEOMETRY OPTIMIZATION COMPLETED" in text


def read_md_frames(run_dir: str | Path, atoms: Atoms, project: str = "vitreous") -> list[Atoms]:
    """MD frames from ``<project>-pos-1.xyz`` (+ vel, frc, ener, cell), each with
    ``info["time_ps"]``, ``info["energy"]`` (potential, eV), velocities and forces."""
    import ase.io

    run_dir = Path(run_dir)
    pos = run_dir / f"{project}-pos-1.xyz"
    if not pos.is_file():
        raise InputFileError(f"no MD trajectory in {run_dir}", hint="run CP2K MD first")
    frames = ase.io.read(pos, index=":", format="xyz")
    ener = np.loadtxt(run_dir / f"{project}-1.ener", ndmin=2) if (run_dir / f"{project}-1.ener").is_file() else None
    cells = np.loadtxt(run_dir / f"{project}-1.cell", ndmin=2) if (run_dir / f"{project}-1.cell").is_file() else None
    vel = (
        ase.io.read(run_dir / f"{project}-vel-1.xyz", ":", format="xyz")
        if (run_dir / f"{project}-vel-1.xyz").is_file()
        else None
    )
    frc = (
        ase.io.read(run_dir / f"{project}-frc-1.xyz", ":", format="xyz")
        if (run_dir / f"{project}-frc-1.xyz").is_file()
        else None
    )
    out = []
    for k, fr in enumerate(frames):
        a = atoms.copy()
        a.set_positions(fr.positions)
        if cells is not None and k < len(cells):
            a.set_cell(cells[k, 2:11].reshape(3, 3))
        if ener is not None and k < len(ener):
            a.info["time_ps"] = ener[k, 1] * FS_TO_PS
            a.info["temperature_K"] = ener[k, 3]
            a.info["energy"] = ener[k, 4] * Hartree
            a.info["step"] = int(ener[k, 0])
        if vel is not None and k < len(vel):
            # CP2K velocities: bohr per atomic time unit → Å/ps → ASE velocity units
            a_per_ps = vel[k].positions * Bohr / (ATOMIC_TIME_S * 1e12)
            a.set_velocities(a_per_ps / A_PS_PER_ASE_VELOCITY)
        if frc is not None and k < len(frc):
            a.arrays["forces"] = frc[k].positions * Hartree / Bohr
        out.append(a)
    return out


def bomd_to_h5md(run_dir: str | Path, atoms: Atoms, path: str | Path, project: str = "vitreous") -> Path:
    """Write the frames of a CP2K MD run into the canonical H5MD trajectory (positions as
    CP2K wrote them, velocities in Å/ps, thermo rows: temperature and potential energy)."""

    from vitreous.io.h5md import OBSERVABLES, H5MDWriter

    frames = read_md_frames(run_dir, atoms, project)
    steps = np.array([f.info.get("step", k) for k, f in enumerate(frames)])
    times = np.array([f.info.get("time_ps", np.nan) for f in frames])
    with H5MDWriter(path, "w", atoms=atoms, velocities=True, metadata={"engine": "cp2k", "run_dir": str(run_dir)}) as w:
        w.append_frames(
            steps,
            times,
            np.stack([f.positions for f in frames]),
            np.stack([f.cell.array for f in frames]),
            np.stack([f.get_velocities() * A_PS_PER_ASE_VELOCITY for f in frames]),
        )
        nan = np.full(len(frames), np.nan)
        obs = {k: nan for k in OBSERVABLES}
        obs["temperature"] = np.array([f.info.get("temperature_K", np.nan) for f in frames])
        obs["potential_energy"] = np.array([f.info.get("energy", np.nan) for f in frames])
        obs["volume"] = np.array([f.get_volume() if f.cell.volume > 0 else np.nan for f in frames])
        w.append_observables(steps, times, obs)
    return Path(path)


def training_frames(results: list[dict[str, Any]], structures: list[Atoms], config_type: str = "dft") -> list[Atoms]:
    """extxyz-ready frames for MLIP training from single-point results (energy, forces,
    virial, stress) — keys documented in the module docstring."""
    out = []
    for res, atoms in zip(results, structures, strict=True):
        a = atoms.copy()
        if res.get("energy_eV") is None or "forces_eV_A" not in res:
            raise InputFileError("a training frame needs an energy and forces")
        a.info["energy"] = res["energy_eV"]
        a.arrays["forces"] = res["forces_eV_A"]
        if "virial_eV" in res:
            a.info["virial"] = res["virial_eV"]
            a.info["stress"] = -res["stress_GPa"] * GPa  # ASE sign, eV/Å³
        a.info["config_type"] = config_type
        out.append(a)
    return out
