"""CP2K (Quickstep) for DFT single points, geometry optimisation and Born–Oppenheimer MD.

Input is generated from ``ase.Atoms`` and a frozen :class:`DFTSettings` (TOML presets in
``data/dft``): PBE (+ D3 optional), GTH pseudopotentials, MOLOPT basis, spin-unrestricted
with the multiplicity derived from the number of V4+ (d¹) in the ``valence`` array
(high spin: 2S + 1 = n(V4+) + 1; broken symmetry: the lowest multiplicity, with the initial
spins of every second V4+ flipped through &BS), total charge = Σ formal valences.

The runner finds CP2K (``cp2k.psmp``, ``cp2k``, or ``VITREOUS_CP2K``), runs it with the
system ``mpirun`` (OpenMPI from Debian's cp2k, not an MPICH that a Python wheel put on
PATH), follows its output for progress, and raises :class:`~vitreous.errors.EngineError` on
an unconverged SCF or a CP2K abort. MD runs resume from CP2K's restart file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms

from vitreous.engines.cp2k_parse import SCF_LINE
from vitreous.errors import EngineError
from vitreous.species import ensure_valence

__all__ = ["CP2KRun", "DFTSettings", "find_cp2k", "load_dft_settings", "write_input"]

RunType = Literal["single-point", "energy", "optimize", "md"]
PROJECT = "vitreous"
#: Valence electrons of the GTH-PBE pseudopotentials used (file GTH_POTENTIALS).
GTH_Q = {
    "H": 1,
    "Li": 3,
    "Na": 9,
    "K": 9,
    "Mg": 10,
    "Ca": 10,
    "B": 3,
    "Al": 3,
    "Si": 4,
    "P": 5,
    "O": 6,
    "V": 13,
    "Ti": 12,
    "Fe": 16,
    "Zn": 12,
    "S": 6,
    "C": 4,
    "N": 5,
    "F": 7,
    "Cl": 7,
}


@dataclass(frozen=True)
class DFTSettings:
    """DFT settings (validated).

    Parameters
    ----------
    name : str
        Preset name.
    functional : str
        XC functional (CP2K &XC_FUNCTIONAL section name, e.g. PBE).
    dispersion_d3 : bool
        Grimme D3 pair potential (dftd3.dat).
    basis : str
        MOLOPT basis name (e.g. DZVP-MOLOPT-SR-GTH).
    cutoff_Ry, rel_cutoff_Ry : float
        Plane-wave cutoffs (Ry).
    scf : {"ot", "smear"}
        OT (DIIS minimiser, FULL_ALL preconditioner, outer SCF) or diagonalisation with
        Broyden mixing and Fermi–Dirac smearing.
    eps_scf : float
        SCF convergence (Hartree).
    max_scf, outer_max_scf : int
        Inner and outer SCF iterations (each outer iteration rebuilds the OT
        preconditioner from the current orbitals).
    hubbard_u_V_eV : float
        Dudarev U_eff = U − J on the V 3d shell (eV; 0 = plain GGA), Mulliken projection.
    smearing_K : float
        Electronic temperature of the smearing recipe (K).
    mixing_alpha : float
        Broyden mixing fraction of the smearing recipe (with Kerker BETA 1.5 bohr⁻¹,
        NBROYDEN 8; the spin moment is fixed at multiplicity − 1).
    broken_symmetry : bool
        Antiferromagnetic initial guess for V4+ (lowest multiplicity).
    v4_spin_guess : bool
        Put the unpaired d electrons where the ``valence`` array says the V4+ are: those V
        get their own kind whose atomic guess has one 3d electron moved from beta to alpha
        (CP2K ``&BS``; reversed on the spin-down half with ``broken_symmetry``). Without it
        the atomic guess spreads the spin over all V.
    smear_start_scf : int
        OT recipe only: first run this many SCF steps of the smearing recipe (Broyden,
        Fermi–Dirac; not converged, by design) from the atomic guess and start OT from its
        orbitals (``start/`` in the run folder). Measured on the 61-atom Na4V8P8O41 cell
        (benchmarks/results/README.md): OT from the atomic guess had not converged after 77
        steps; from 20 smearing steps it converges (see there for the step count).
    multiplicity : int, optional
        Override the derived multiplicity.
    """

    name: str = "custom"
    functional: str = "PBE"
    dispersion_d3: bool = False
    basis: str = "DZVP-MOLOPT-SR-GTH"
    cutoff_Ry: float = 400.0
    rel_cutoff_Ry: float = 50.0
    scf: str = "ot"
    eps_scf: float = 1e-6
    max_scf: int = 50
    outer_max_scf: int = 10
    smearing_K: float = 1000.0
    mixing_alpha: float = 0.1
    broken_symmetry: bool = False
    multiplicity: int | None = None
    hubbard_u_V_eV: float = 0.0
    v4_spin_guess: bool = False
    smear_start_scf: int = 0

    def __post_init__(self) -> None:
        if self.scf not in ("ot", "smear"):
            raise EngineError(f"unknown SCF recipe '{self.scf}'", hint="ot or smear")
        if self.cutoff_Ry <= 0 or self.rel_cutoff_Ry <= 0 or self.eps_scf <= 0 or self.max_scf <= 0:
            raise EngineError("cutoffs, eps_scf and max_scf must be positive")
        if not 0 < self.mixing_alpha <= 1:
            raise EngineError(f"mixing_alpha must be in (0, 1], got {self.mixing_alpha}")
        if self.hubbard_u_V_eV < 0:
            raise EngineError("hubbard_u_V_eV must not be negative")
        if self.smear_start_scf < 0:
            raise EngineError(f"smear_start_scf must not be negative, got {self.smear_start_scf}")
        if self.multiplicity is not None and self.multiplicity < 1:
            raise EngineError("multiplicity must be >= 1")


def load_dft_settings(name_or_path: str, **overrides: Any) -> DFTSettings:
    """A preset from ``data/dft`` by name (``pbe-dzvp-uks``, ...) or a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
    else:
        res = resources.files("vitreous.data").joinpath("dft", f"{name_or_path}.toml")
        if not res.is_file():
            names = sorted(
                p.name[:-5]
                for p in resources.files("vitreous.data").joinpath("dft").iterdir()
                if p.name.endswith(".toml")
            )
            raise EngineError(f"unknown DFT settings '{name_or_path}'", hint=f"presets: {', '.join(names)}")
        text = res.read_text()
    raw = tomllib.loads(text)
    known = set(DFTSettings.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise EngineError(f"unknown key(s) {sorted(unknown)} in DFT settings", hint=f"known: {sorted(known)}")
    return replace(DFTSettings(**raw), **overrides)


def spin_state(atoms: Atoms, settings: DFTSettings) -> tuple[int, int, int]:
    """(charge, multiplicity, electrons) from the valence array and GTH valence charges.

    Raises
    ------
    EngineError
        When the multiplicity does not match the parity of the electron count.
    """
    valence = ensure_valence(atoms)
    symbols = atoms.get_chemical_symbols()
    missing = sorted({s for s in symbols if s not in GTH_Q})
    if missing:
        raise EngineError(f"no GTH valence charge known for {', '.join(missing)}")
    charge = int(valence.sum())
    electrons = sum(GTH_Q[s] for s in symbols) - charge
    n_v4 = int(np.sum((np.array(symbols) == "V") & (valence == 4)))
    if settings.multiplicity is not None:
        mult = settings.multiplicity
    elif settings.broken_symmetry:
        mult = n_v4 % 2 + 1
    else:
        mult = n_v4 + 1
    if (mult - 1) % 2 != electrons % 2:
        raise EngineError(
            f"multiplicity {mult} does not fit {electrons} electrons",
            hint="check the valence array (charge = sum of formal valences) or set the multiplicity",
        )
    return charge, mult, electrons


def _bs_block(alpha: int) -> list[str]:
    """&BS lines moving one 3d electron into (alpha=+1) or out of (alpha=-1) the alpha channel."""
    return [
        "      &BS",
        "        &ALPHA",
        f"          NEL {alpha:+d}",
        "          L 2",
        "          N 3",
        "        &END ALPHA",
        "        &BETA",
        f"          NEL {-alpha:+d}",
        "          L 2",
        "          N 3",
        "        &END BETA",
        "      &END BS",
    ]


def _kinds(atoms: Atoms, settings: DFTSettings) -> tuple[list[str], list[str]]:
    """Kind label per atom and the &KIND sections (V4+ split for broken symmetry or a
    spin-localised guess)."""
    valence = ensure_valence(atoms)
    labels = []
    flip = False
    for s, v in zip(atoms.get_chemical_symbols(), valence, strict=True):
        if s == "V" and v == 4 and (settings.broken_symmetry or settings.v4_spin_guess):
            if settings.broken_symmetry and flip:
                labels.append("V_dn")
            else:
                labels.append("V_up" if settings.v4_spin_guess else "V")
            flip = not flip
        else:
            labels.append(s)
    sections = []
    for kind in dict.fromkeys(labels):
        el = kind.split("_")[0]
        lines = [
            f"    &KIND {kind}",
            f"      ELEMENT {el}",
            f"      BASIS_SET {settings.basis}",
            f"      POTENTIAL GTH-{settings.functional}-q{GTH_Q[el]}",
        ]
        if el == "V" and settings.hubbard_u_V_eV > 0:
            lines += [
                "      &DFT_PLUS_U",
                "        L 2",
                f"        U_MINUS_J [eV] {settings.hubbard_u_V_eV:g}",
                "      &END DFT_PLUS_U",
            ]
        if kind == "V_dn":  # one d electron moved from alpha to beta in the initial guess
            lines += _bs_block(-1)
        elif kind == "V_up":
            lines += _bs_block(+1)
        lines.append("    &END KIND")
        sections.append("\n".join(lines))
    return labels, sections


def _scf_section(settings: DFTSettings, multiplicity: int, wfn_restart: str | None) -> list[str]:
    """&SCF body: OT (with outer loops) or Broyden-mixed smearing diagonalisation."""
    scf = [
        f"      EPS_SCF {settings.eps_scf:g}",
        f"      MAX_SCF {settings.max_scf}",
        f"      SCF_GUESS {'RESTART' if wfn_restart else 'ATOMIC'}",
    ]
    if settings.scf == "ot":
        scf += ["      &OT", "        MINIMIZER DIIS", "        PRECONDITIONER FULL_ALL", "        ENERGY_GAP 0.05"]
        scf.append("      &END OT")
        if settings.outer_max_scf > 0:
            scf += [
                "      &OUTER_SCF",
                f"        MAX_SCF {settings.outer_max_scf}",
                f"        EPS_SCF {settings.eps_scf:g}",
            ]
            scf.append("      &END OUTER_SCF")
        return scf
    # Broyden with Kerker damping (BETA, bohr^-1) and the spin moment fixed at the V4+ count
    return scf + [
        "      ADDED_MOS 100",
        "      &DIAGONALIZATION",
        "        ALGORITHM STANDARD",
        "      &END DIAGONALIZATION",
        "      &MIXING",
        "        METHOD BROYDEN_MIXING",
        f"        ALPHA {settings.mixing_alpha:g}",
        "        BETA 1.5",
        "        NBROYDEN 8",
        "      &END MIXING",
        "      &SMEAR ON",
        "        METHOD FERMI_DIRAC",
        f"        ELECTRONIC_TEMPERATURE [K] {settings.smearing_K:g}",
        f"        FIXED_MAGNETIC_MOMENT {multiplicity - 1}",
        "      &END SMEAR",
    ]


def _xc_section(settings: DFTSettings) -> list[str]:
    """&XC: the functional, with Grimme D3 pair terms when asked."""
    xc = ["    &XC", f"      &XC_FUNCTIONAL {settings.functional}", "      &END XC_FUNCTIONAL"]
    if settings.dispersion_d3:
        xc += [
            "      &VDW_POTENTIAL",
            "        POTENTIAL_TYPE PAIR_POTENTIAL",
            "        &PAIR_POTENTIAL",
            "          TYPE DFTD3",
            "          PARAMETER_FILE_NAME dftd3.dat",
            f"          REFERENCE_FUNCTIONAL {settings.functional}",
            "        &END PAIR_POTENTIAL",
            "      &END VDW_POTENTIAL",
        ]
    return [*xc, "    &END XC"]


_WANNIER = [
    "    &LOCALIZE",
    "      METHOD CRAZY",
    "      MAX_ITER 4000",
    "      EPS_LOCALIZATION 1.0E-5",
    "      &PRINT",
    "        &WANNIER_CENTERS",
    "          IONS+CENTERS",
    "          FILENAME =wannier.xyz",
    "        &END WANNIER_CENTERS",
    "      &END PRINT",
    "    &END LOCALIZE",
]


def _dft_section(
    settings: DFTSettings,
    charge: int,
    multiplicity: int,
    periodic: bool,
    wannier: bool,
    spin_populations: bool,
    wfn_restart: str | None,
) -> list[str]:
    """&DFT: basis and potentials, charge and multiplicity (UKS), +U, grids, SCF, XC, the
    non-periodic Poisson solver, Wannier localisation and population printing."""
    dft = [
        "  &DFT",
        "    BASIS_SET_FILE_NAME BASIS_MOLOPT",
        "    POTENTIAL_FILE_NAME GTH_POTENTIALS",
        f"    CHARGE {charge}",
        "    UKS TRUE",
        f"    MULTIPLICITY {multiplicity}",
    ]
    if settings.hubbard_u_V_eV > 0:
        dft.append("    PLUS_U_METHOD MULLIKEN")
    if wfn_restart:
        dft.append(f"    WFN_RESTART_FILE_NAME {wfn_restart}")
    dft += [
        "    &MGRID",
        f"      CUTOFF {settings.cutoff_Ry:g}",
        f"      REL_CUTOFF {settings.rel_cutoff_Ry:g}",
        "    &END MGRID",
        "    &QS",
        "      EPS_DEFAULT 1.0E-12",
        "      EXTRAPOLATION ASPC",
        "      EXTRAPOLATION_ORDER 3",
        "    &END QS",
        "    &SCF",
        *_scf_section(settings, multiplicity, wfn_restart),
        "    &END SCF",
        *_xc_section(settings),
    ]
    if not periodic:
        dft += ["    &POISSON", "      PERIODIC NONE", "      POISSON_SOLVER MT", "    &END POISSON"]
    if wannier:
        dft += _WANNIER
    if spin_populations:
        dft += [
            "    &PRINT",
            "      &MULLIKEN ON",
            "      &END MULLIKEN",
            "      &HIRSHFELD ON",
            "      &END HIRSHFELD",
        ]
        dft.append("    &END PRINT")
    return [*dft, "  &END DFT"]


def _subsys_section(
    cell: np.ndarray, positions: np.ndarray, labels: list[str], kinds: list[str], periodic: bool
) -> list[str]:
    """&SUBSYS: cell (Å), coordinates (Å) and kinds."""
    return [
        "  &SUBSYS",
        "    &CELL",
        *(f"      {n} {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}" for n, v in zip("ABC", cell, strict=True)),
        f"      PERIODIC {'XYZ' if periodic else 'NONE'}",
        "    &END CELL",
        "    &COORD",
        *(f"      {lab} {x:.10f} {y:.10f} {z:.10f}" for lab, (x, y, z) in zip(labels, positions, strict=True)),
        "    &END COORD",
        *kinds,
        "  &END SUBSYS",
    ]


def _each_md_step(section: str, extra: tuple[str, ...] = ()) -> list[str]:
    """A &MOTION/&PRINT subsection written at every MD step."""
    return [f"    &{section}", *extra, "      &EACH", "        MD 1", "      &END EACH", f"    &END {section}"]


def _motion_section(
    run_type: RunType, steps: int, timestep_fs: float, temperature_K: float, timecon_fs: float
) -> list[str]:
    """&MOTION: Nosé–Hoover chain NVT MD printing everything each step, or BFGS GEO_OPT."""
    if run_type == "optimize":
        return ["&MOTION", "  &GEO_OPT", "    OPTIMIZER BFGS", f"    MAX_ITER {steps}", "  &END GEO_OPT", "&END MOTION"]
    if run_type != "md":
        return []
    return [
        "&MOTION",
        "  &MD",
        "    ENSEMBLE NVT",
        f"    STEPS {steps}",
        f"    TIMESTEP {timestep_fs:g}",
        f"    TEMPERATURE {temperature_K:g}",
        "    &THERMOSTAT",
        "      TYPE NOSE",
        "      &NOSE",
        "        LENGTH 3",
        f"        TIMECON {timecon_fs:g}",
        "      &END NOSE",
        "    &END THERMOSTAT",
        "  &END MD",
        "  &PRINT",
        *_each_md_step("TRAJECTORY"),
        *_each_md_step("VELOCITIES"),
        *_each_md_step("FORCES"),
        *_each_md_step("CELL"),
        *_each_md_step("RESTART", ("      BACKUP_COPIES 0",)),
        "  &END PRINT",
        "&END MOTION",
    ]


def write_input(
    atoms: Atoms,
    settings: DFTSettings,
    run_type: RunType = "single-point",
    *,
    steps: int = 10,
    timestep_fs: float = 0.5,
    temperature_K: float = 300.0,
    thermostat_timecon_fs: float = 100.0,
    wannier: bool = False,
    spin_populations: bool = False,
    stress: bool = True,
    restart: str | None = None,
    wfn_restart: str | None = None,
    seed: int = 1,
) -> str:
    """CP2K input text (``single-point``: energy, forces, stress; ``energy``: energy only).
    Positions in Å; a non-periodic structure gets a 10 Å-padded cubic
    box with PERIODIC NONE (Martyna–Tuckerman Poisson solver)."""
    charge, mult, _ = spin_state(atoms, settings)
    periodic = bool(all(atoms.pbc)) and atoms.cell.volume > 0
    if periodic:
        cell = atoms.cell.array
        positions = atoms.positions
    else:
        span = atoms.positions.max(axis=0) - atoms.positions.min(axis=0)
        edge = float(max(span.max() + 10.0, 8.0))
        cell = np.eye(3) * edge
        positions = atoms.positions - atoms.positions.mean(axis=0) + edge / 2
    labels, kinds = _kinds(atoms, settings)
    gl = {"single-point": "ENERGY_FORCE", "energy": "ENERGY", "optimize": "GEO_OPT", "md": "MD"}[run_type]
    stress_on = stress and periodic and run_type != "energy"  # no forces, no stress
    fe = [
        "&FORCE_EVAL",
        "  METHOD QS",
        *(["  STRESS_TENSOR ANALYTICAL"] if stress_on else []),
        *_dft_section(settings, charge, mult, periodic, wannier, spin_populations, wfn_restart),
        *_subsys_section(cell, positions, labels, kinds, periodic),
        "  &PRINT",
        "    &FORCES ON",
        "    &END FORCES",
        *(["    &STRESS_TENSOR ON", "    &END STRESS_TENSOR"] if stress_on else []),
        "  &END PRINT",
        "&END FORCE_EVAL",
    ]
    glob = ["&GLOBAL", f"  PROJECT {PROJECT}", f"  RUN_TYPE {gl}", "  PRINT_LEVEL MEDIUM", f"  SEED {seed}"]
    glob.append("&END GLOBAL")
    motion = _motion_section(run_type, steps, timestep_fs, temperature_K, thermostat_timecon_fs)
    ext = ["&EXT_RESTART", f"  RESTART_FILE_NAME {restart}", "&END EXT_RESTART"] if restart else []
    return "\n".join(glob + fe + motion + ext) + "\n"


def find_cp2k(command: str | None = None) -> list[str]:
    """The CP2K executable: ``command``, ``$VITREOUS_CP2K``, ``cp2k.psmp`` or ``cp2k``."""
    for cand in (command, os.environ.get("VITREOUS_CP2K"), "cp2k.psmp", "cp2k"):
        if cand:
            exe = shutil.which(cand.split()[0])
            if exe:
                return [exe, *cand.split()[1:]]
    raise EngineError("CP2K not found", hint="apt-get install cp2k, or set VITREOUS_CP2K to your cp2k binary")


def _mpirun() -> str | None:
    """The system OpenMPI mpirun (Debian's cp2k is linked against it), not a wheel's MPICH."""
    for path in ("/usr/bin/mpirun", "/usr/bin/mpiexec.openmpi"):
        if os.path.exists(path):
            return path
    return shutil.which("mpirun")


def check_input(text: str, workdir: Path, command: str | None = None) -> None:
    """Have CP2K parse an input (``cp2k --check``); raise EngineError with its message."""
    workdir.mkdir(parents=True, exist_ok=True)
    inp = workdir / "check.inp"
    inp.write_text(text)
    res = subprocess.run([*find_cp2k(command), "--check", str(inp)], cwd=workdir, capture_output=True, text=True)
    out = res.stdout + res.stderr
    if res.returncode != 0 or "ABORT" in out or ("error" in out.lower() and "syntax" in out.lower()):
        raise EngineError(f"CP2K rejects the input: {_abort_message(out)}")


def _abort_message(text: str) -> str:
    m = re.search(r"\*\s+\[ABORT\]\s*\*(.*?)(?:\*\s*\n\s*\*{5,}|\Z)", text, re.S)
    if m:
        return " ".join(x.strip(" *") for x in m.group(1).splitlines() if x.strip(" *"))
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


@dataclass
class CP2KRun:
    """One CP2K calculation in a run folder; rerun to resume an MD run from its restart file.

    Parameters
    ----------
    atoms : ase.Atoms
        Structure with a ``valence`` array (V4+ count sets the multiplicity).
    settings : DFTSettings
    run_type : {"single-point", "optimize", "md"}
    run_dir : path
    ranks, threads : int
        MPI ranks (system mpirun) and OpenMP threads per rank.
    guess_wfn : path, optional
        A CP2K wavefunction file of the same atoms and settings (e.g. the previous MD
        segment's ``vitreous-RESTART.wfn``) to start the SCF from instead of the atomic guess
        or the smearing start; copied into the run folder. Ignored when an MD run resumes.
    """

    atoms: Atoms
    settings: DFTSettings
    run_type: RunType
    run_dir: Path
    ranks: int = 2
    threads: int = 1
    steps: int = 10
    timestep_fs: float = 0.5
    temperature_K: float = 300.0
    wannier: bool = False
    spin_populations: bool = False
    command: str | None = None
    seed: int = 1
    guess_wfn: Path | None = None

    def run(self, progress: bool | Callable[[str], None] = False, timeout_s: float | None = None) -> dict[str, Any]:
        """Run CP2K (or resume an MD run) and return the parsed results.

        Raises
        ------
        EngineError
            CP2K missing or aborting, or any SCF not converged.
        """
        from vitreous.engines.cp2k_parse import parse_output

        self.run_dir = Path(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        restart = self.run_dir / f"{PROJECT}-1.restart"
        resume = self.run_type == "md" and restart.is_file()
        steps = self.steps
        if resume:  # CP2K counts STEPS after the restarted step: run only what is left
            ener = self.run_dir / f"{PROJECT}-1.ener"
            done = int(np.loadtxt(ener, ndmin=2)[-1, 0]) if ener.is_file() and ener.stat().st_size else 0
            steps = self.steps - done
            if steps <= 0:
                raise EngineError(
                    f"{self.run_dir} already holds {done} of {self.steps} MD steps",
                    hint="ask for more steps or use a new folder",
                )
        wfn = self.run_dir / f"{PROJECT}-RESTART.wfn"
        t0 = time.perf_counter()
        start_wfn = None
        if resume and wfn.is_file():
            start_wfn = wfn.name
        elif self.guess_wfn is not None:
            if not Path(self.guess_wfn).is_file():
                raise EngineError(f"guess wavefunction {self.guess_wfn} not found")
            shutil.copyfile(self.guess_wfn, self.run_dir / "guess-RESTART.wfn")
            start_wfn = "guess-RESTART.wfn"
        elif self.settings.scf == "ot" and self.settings.smear_start_scf > 0:
            start_wfn = self._smear_start(progress, timeout_s, t0)
        text = write_input(
            self.atoms,
            self.settings,
            self.run_type,
            steps=steps,
            timestep_fs=self.timestep_fs,
            temperature_K=self.temperature_K,
            wannier=self.wannier,
            spin_populations=self.spin_populations,
            restart=restart.name if resume else None,
            wfn_restart=start_wfn,
            seed=self.seed,
        )
        out, text_out = self._execute(text, self.run_dir, progress, timeout_s, t0)
        if re.search(r"SCF run NOT converged", text_out):
            raise EngineError(
                f"SCF did not converge in {out}",
                hint="try the smearing recipe (pbe-dzvp-uks-smear), more max_scf, or a better start",
            )
        result = parse_output(out, self.run_dir, self.atoms)
        if self.run_type == "optimize":
            from vitreous.engines.cp2k_parse import read_optimized

            result["final_atoms"], result["optimization_converged"] = read_optimized(out, self.run_dir, self.atoms)
        result["wall_time_s"] = time.perf_counter() - t0
        result["resumed"] = resume
        result["input"] = str(out.with_suffix(".inp"))
        result["settings"] = asdict(self.settings)
        return result

    def _smear_start(self, progress: Any, timeout_s: float | None, t0: float) -> str:
        """Run ``smear_start_scf`` smearing SCF steps in ``start/``; return its wavefunction
        file relative to the run folder (an unconverged SCF is expected here)."""
        folder = self.run_dir / "start"
        folder.mkdir(exist_ok=True)
        wfn = folder / f"{PROJECT}-RESTART.wfn"
        say = progress if callable(progress) else print if progress else (lambda _: None)
        outs = sorted(folder.glob("cp2k-*.out"), key=lambda f: int(f.stem.split("-")[1]))
        if wfn.is_file() and outs and "PROGRAM ENDED" in outs[-1].read_text(errors="replace"):
            say(f"smearing start: reusing the finished one in {folder}")  # a rerun after a killed main run
            return f"start/{wfn.name}"
        say(f"smearing start: {self.settings.smear_start_scf} SCF steps, then OT from their orbitals")
        start = replace(self.settings, scf="smear", max_scf=self.settings.smear_start_scf, outer_max_scf=0)
        self._execute(write_input(self.atoms, start, "energy", seed=self.seed), folder, progress, timeout_s, t0)
        if not wfn.is_file():
            raise EngineError(f"the smearing start wrote no wavefunction in {folder}")
        return f"start/{wfn.name}"

    def _execute(self, text: str, folder: Path, progress: Any, timeout_s: float | None, t0: float) -> tuple[Path, str]:
        """Write ``cp2k-N.inp`` in ``folder``, run CP2K there, return (output path, text)."""
        n_run = len(list(folder.glob("cp2k-*.out")))
        inp = folder / f"cp2k-{n_run}.inp"
        out = folder / f"cp2k-{n_run}.out"
        inp.write_text(text)
        cmd = find_cp2k(self.command)
        if self.ranks > 1:
            mpirun = _mpirun()
            if mpirun is None:
                raise EngineError("mpirun not found for a multi-rank CP2K run", hint="ranks=1 or install OpenMPI")
            cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", str(self.ranks), *cmd]
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads))
        # keep a Python wheel's MPICH out of the way of the system OpenMPI
        env.pop("LD_LIBRARY_PATH", None)
        with open(out, "w") as fh:
            proc = subprocess.Popen([*cmd, "-i", inp.name], cwd=folder, stdout=fh, stderr=subprocess.STDOUT, env=env)
            try:
                self._follow(proc, out, progress, timeout_s, t0)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        text_out = out.read_text(errors="replace")
        if proc.returncode != 0 or "PROGRAM ENDED" not in text_out:
            raise EngineError(f"CP2K failed (exit {proc.returncode}) in {folder}: {_abort_message(text_out)}")
        return out, text_out

    def _follow(self, proc: subprocess.Popen, out: Path, progress: Any, timeout_s: float | None, t0: float) -> None:
        # read only what CP2K appended since the last look (an MD log grows to many MB), and
        # keep a partial last line for the next look
        pos, partial = 0, ""
        while proc.poll() is None:
            time.sleep(0.5)
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                raise EngineError(f"CP2K exceeded {timeout_s:.0f} s in {self.run_dir}")
            if not progress:
                continue
            try:
                with open(out, errors="replace") as fh:
                    fh.seek(pos)
                    new = fh.read()
                    pos = fh.tell()
            except OSError:
                continue
            lines = (partial + new).split("\n")
            partial = lines.pop()
            for line in lines:
                msg = None
                m = SCF_LINE.match(line)
                if m:
                    msg = f"SCF step {m['step']}: E = {m['energy']} Ha"
                elif "MD| Step number" in line or "STEP NUMBER" in line or "OPTIMIZATION STEP:" in line:
                    msg = " ".join(line.replace("*", " ").split())
                elif "ENERGY| Total FORCE_EVAL" in line:
                    msg = "energy " + line.split(":")[-1].strip() + " Ha"
                if msg:
                    (progress if callable(progress) else print)(msg)


def melt_quench_segments(
    t_melt_K: float, t_final_K: float, n_segments: int, steps_per_segment: int
) -> list[tuple[float, int]]:
    """An f-BOMD schedule as consecutive NVT segments: (temperature_K, steps) from the melt
    down to the final temperature, each segment restarting from the previous one."""
    if n_segments < 2 or steps_per_segment <= 0 or t_final_K >= t_melt_K:
        raise EngineError("a DFT melt-quench needs >= 2 segments, positive steps and t_final < t_melt")
    temps = np.linspace(t_melt_K, t_final_K, n_segments)
    return [(float(t), steps_per_segment) for t in temps]
