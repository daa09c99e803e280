"""Classical rigid-ion force fields as data (``data/forcefields/*.toml``).

The Pedone form (Pedone et al., J. Phys. Chem. B 110 (2006) 11780):

    U_ij(r) = q_i q_j e²/(4πε0 r) + D_ij [(1 − exp(−a_ij (r − r0_ij)))² − 1] + C_ij / r¹²,

optionally with Buckingham terms A exp(−r/ρ) − C/r⁶ and screened harmonic three-body terms
E = K (θ − θ0)² exp(−r_ij/ρ − r_ik/ρ) (LAMMPS ``nb3b/screened``, central atom i).

A set may instead taper its three-body terms smoothly to zero at their cutoffs
(:class:`ThreeBodyTaper`): each screening factor exp(−r/ρ) is replaced by the
Stillinger–Weber factor exp(γσ/(r − r_c)) (Stillinger & Weber, Phys. Rev. B 31 (1985) 5262),
which vanishes with all its derivatives at r_c, run by LAMMPS ``sw/angle/table`` with the
angular part K (θ − θ0)² tabulated.
Coulomb is Ewald/PPPM (``coul/long``) or damped shifted force (``coul/dsf``, Fennell &
Gezelter, J. Chem. Phys. 124 (2006) 234104): see :class:`Coulomb`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from vitreous.composition import Species
from vitreous.errors import PotentialError

__all__ = [
    "COULOMB_METHODS",
    "Buckingham",
    "Coulomb",
    "CoulombMethod",
    "ForceField",
    "PedonePair",
    "ThreeBody",
    "ThreeBodyTaper",
    "available_forcefields",
    "load_forcefield",
]

CoulombMethod = Literal["pppm", "ewald", "dsf"]
#: the Coulomb methods, for validation and help texts
COULOMB_METHODS: tuple[str, ...] = get_args(CoulombMethod)


def _species(key: str) -> Species:
    m = re.match(r"^([A-Z][a-z]?)([+-]\d+)$", key.strip())
    if not m:
        raise PotentialError(f"cannot read species '{key}'", hint="write element and valence, e.g. V+5, O-2")
    return Species(m.group(1), int(m.group(2)))


def _key(s: Species) -> str:
    return f"{s.element}{s.valence:+d}"


@dataclass(frozen=True)
class PedonePair:
    """Morse + r⁻¹² short-range term: D (eV), a (1/Å), r0 (Å), C (eV Å¹²)."""

    a_species: Species
    b_species: Species
    D: float
    a: float
    r0: float
    C: float
    source: str = ""

    def energy(self, r: float) -> float:
        """Short-range energy (eV) at distance r (Å), without Coulomb."""
        import math

        return self.D * ((1 - math.exp(-self.a * (r - self.r0))) ** 2 - 1) + self.C / r**12


@dataclass(frozen=True)
class Buckingham:
    """A exp(−r/ρ) − C/r⁶: A (eV), ρ (Å), C (eV Å⁶)."""

    a_species: Species
    b_species: Species
    A: float
    rho: float
    C: float
    source: str = ""


@dataclass(frozen=True)
class ThreeBody:
    """Screened harmonic angle term on elements (any valence); ``center`` is the vertex."""

    center: str
    j: str
    k: str
    K: float
    theta0: float
    rho: float
    cutoff: float


@dataclass(frozen=True)
class ThreeBodyTaper:
    """Smooth replacement of one pair's three-body screening factor (eV-free, Å).

    For the pair (``center``, ``other``) the factor exp(−r/ρ) of every three-body term is
    replaced by c⁻¹ exp(γσ/(r − r_c)), with r_c the pair's cutoff (taken, as LAMMPS does,
    from the ``center other other`` term), and γσ = (r_c − r_m)²/ρ and c chosen so that value
    and slope equal those of exp(−r/ρ) at ``match_r_A`` (r_m, the bonded-distance peak).

    Parameters
    ----------
    center, other : str
        Elements; ``center`` is the vertex of the angle.
    match_r_A : float
        Distance r_m (Å) where the smooth factor equals exp(−r/ρ) in value and slope.
    cutoff_A : float, optional
        Where the factor vanishes (Å); default the set's own cutoff of the pair.
    """

    center: str
    other: str
    match_r_A: float
    cutoff_A: float | None = None

    def parameters(self, rho_A: float, cutoff_A: float) -> tuple[float, float]:
        """(γσ in Å, c) for a screening length ``rho_A`` and cutoff ``cutoff_A`` (Å)."""
        if not 0 < self.match_r_A < cutoff_A:
            raise PotentialError(
                f"three-body taper {self.center}-{self.other}: match_r_A {self.match_r_A} must lie in (0, {cutoff_A})"
            )
        gamma_sigma = (cutoff_A - self.match_r_A) ** 2 / rho_A
        c = math.exp(gamma_sigma / (self.match_r_A - cutoff_A) + self.match_r_A / rho_A)
        return gamma_sigma, c

    def factor(self, r_A: np.ndarray | float, rho_A: float, cutoff_A: float) -> np.ndarray:
        """The smooth screening factor c⁻¹ exp(γσ/(r − r_c)) (0 at and beyond r_c)."""
        gamma_sigma, c = self.parameters(rho_A, cutoff_A)
        r = np.asarray(r_A, dtype=float)
        out = np.zeros_like(r)
        inside = r < cutoff_A
        out[inside] = np.exp(gamma_sigma / (r[inside] - cutoff_A)) / c
        return out


@dataclass(frozen=True)
class Coulomb:
    """Coulomb treatment.

    Parameters
    ----------
    method : {"pppm", "ewald", "dsf"}
        Ewald-type long-range sums (``coul/long``) or damped shifted force (``coul/dsf``).
    cutoff_A : float
        Real-space cutoff (Å).
    accuracy : float
        Relative force accuracy of PPPM/Ewald.
    dsf_alpha_inv_A : float
        Damping parameter α (1/Å) of DSF.
    """

    method: CoulombMethod = "pppm"
    cutoff_A: float = 10.0
    accuracy: float = 1e-5
    dsf_alpha_inv_A: float = 0.25

    def __post_init__(self) -> None:
        if self.method not in COULOMB_METHODS:
            raise PotentialError(f"unknown Coulomb method '{self.method}'", hint=", ".join(COULOMB_METHODS))
        if self.cutoff_A <= 0 or not 0 < self.accuracy < 1 or self.dsf_alpha_inv_A <= 0:
            raise PotentialError("Coulomb cutoff, accuracy and alpha must be positive")


@dataclass(frozen=True)
class ForceField:
    """A complete, named classical force field."""

    name: str
    title: str
    reference: str
    charges: dict[Species, float] = field(hash=False)
    pedone: tuple[PedonePair, ...]
    buckingham: tuple[Buckingham, ...] = ()
    three_body: tuple[ThreeBody, ...] = ()
    short_range_cutoff_A: float = 7.0
    notes: tuple[str, ...] = ()
    three_body_taper: tuple[ThreeBodyTaper, ...] = ()
    base: str = ""
    #: engines that run a classical set (the :class:`~vitreous.potentials.base.Potential` interface)
    engines: tuple[str, ...] = ("lammps", "ase")

    def pair_screening(self, center: str, other: str) -> tuple[float, float] | None:
        """(ρ, cutoff) in Å of the pair's three-body screening, from the ``center other other``
        term as LAMMPS reads it; None where the set has no such term."""
        t = next((t for t in self.three_body if t.center == center and t.j == other and t.k == other), None)
        return None if t is None else (t.rho, t.cutoff)

    def check_covers(self, species: Sequence[Species]) -> None:
        """Refuse species the set does not describe, naming every missing term.

        A species needs a charge, and every cation needs a cation–O short-range term; O
        needs an O–O term.
        """
        missing = []
        present = set(species)
        for s in sorted(present):
            if s not in self.charges:
                missing.append(f"charge of {_key(s)}")
        oxygen = Species("O", -2)
        pairs = {frozenset((p.a_species, p.b_species)) for p in self.pedone}
        for s in sorted(present):
            if s == oxygen:
                if frozenset((oxygen,)) not in pairs and oxygen in present:
                    missing.append("O-2 – O-2 short-range term")
            elif oxygen in present and frozenset((s, oxygen)) not in pairs:
                missing.append(f"{_key(s)} – O-2 short-range term")
        if missing:
            raise PotentialError(
                f"force field '{self.name}' does not cover: {'; '.join(missing)}",
                hint=f"choose a set that has these species (available: {', '.join(available_forcefields())})",
            )

    def lammps_commands(
        self,
        type_species: Sequence[Species],
        coulomb: Coulomb,
        workdir: Path,
    ) -> list[str]:
        """LAMMPS commands for this field on types 1..N (``type_species[i]`` is type i+1).

        Writes the ``nb3b/screened`` parameter file into ``workdir`` when needed.
        """
        self.check_covers(type_species)
        index = {s: i + 1 for i, s in enumerate(type_species)}
        rc = self.short_range_cutoff_A
        styles = []
        if coulomb.method == "dsf":
            styles.append(f"coul/dsf {coulomb.dsf_alpha_inv_A} {coulomb.cutoff_A}")
        else:
            styles.append(f"coul/long {coulomb.cutoff_A}")
        styles.append(f"pedone {rc}")
        used_buck = [b for b in self.buckingham if b.a_species in index and b.b_species in index]
        if used_buck:
            styles.append(f"buck {rc}")
        elements = [s.element for s in type_species]
        used_3b = [t for t in self.three_body if t.center in elements and t.j in elements and t.k in elements]
        style_3b = "sw/angle/table" if self.three_body_taper else "nb3b/screened"
        if used_3b:
            styles.append(style_3b)
        cmds = [f"pair_style hybrid/overlay {' '.join(styles)}"]
        coul = "coul/dsf" if coulomb.method == "dsf" else "coul/long"
        cmds.append(f"pair_coeff * * {coul}")
        for p in self.pedone:
            if p.a_species in index and p.b_species in index:
                i, j = sorted((index[p.a_species], index[p.b_species]))
                cmds.append(f"pair_coeff {i} {j} pedone {p.D} {p.a} {p.r0} {p.C}")
        for b in used_buck:
            i, j = sorted((index[b.a_species], index[b.b_species]))
            cmds.append(f"pair_coeff {i} {j} buck {b.A} {b.rho} {b.C}")
        if used_3b:
            stem = workdir / self.name.replace("+", "_")
            if self.three_body_taper:
                path = Path(f"{stem}.sw")
                table = Path(f"{stem}.angles")
                sw, angles = self._sw_files(sorted(set(elements)), used_3b, table)
                table.write_text(angles)
                path.write_text(sw)
            else:
                path = Path(f"{stem}.nb3b.screened")
                path.write_text(self._nb3b_file(sorted(set(elements)), used_3b))
            cmds.append(f"pair_coeff * * {style_3b} {path} {' '.join(elements)}")
        cmds.append("pair_modify shift yes")
        for s, t in index.items():
            cmds.append(f"set type {t} charge {self.charges[s]}")
        if coulomb.method == "pppm":
            cmds.append(f"kspace_style pppm {coulomb.accuracy}")
        elif coulomb.method == "ewald":
            cmds.append(f"kspace_style ewald {coulomb.accuracy}")
        return cmds

    @staticmethod
    def _nb3b_file(elements: list[str], terms: list[ThreeBody]) -> str:
        """Parameter file: one line per ordered triplet (i j k K theta0 rho cutoff); K = 0
        where the set has no term, since LAMMPS wants every triplet."""
        table = {}
        for t in terms:
            table[(t.center, t.j, t.k)] = t
            table[(t.center, t.k, t.j)] = t
        lines = ["# generated by vitreous: element_i(center) j k K(eV/rad2) theta0(deg) rho(A) cutoff(A)"]
        for i in elements:
            for j in elements:
                for k in elements:
                    t = table.get((i, j, k))
                    if t is None:
                        lines.append(f"{i} {j} {k} 0.0 109.47 1.0 0.0")
                    else:
                        lines.append(f"{i} {j} {k} {t.K} {t.theta0} {t.rho} {t.cutoff}")
        return "\n".join(lines) + "\n"

    def _sw_files(self, elements: list[str], terms: list[ThreeBody], table: Path) -> tuple[str, str]:
        """``sw/angle/table`` parameter file and its angle table for the tapered three-body terms.

        Each ordered triplet i j k gets a line; the pair i–j takes its cutoff a·σ (σ = 1 Å)
        and γσ from the i j j line (as in LAMMPS ``sw``); the two-body part is off (A = 0).
        The angular table of i j k holds K/(c_ij c_ik) (θ − θ0)² (eV) and −dE/dθ (eV/degree).
        """
        tapers = {(t.center, t.other): t for t in self.three_body_taper}
        pair_params: dict[tuple[str, str], tuple[float, float, float]] = {}
        for i in elements:
            for j in elements:
                screening = self.pair_screening(i, j)
                if screening is None:
                    continue
                if (i, j) not in tapers:
                    raise PotentialError(
                        f"force field '{self.name}': three-body pair {i}-{j} has no taper",
                        hint="give every [[three_body]] pair a [[three_body_taper]] entry",
                    )
                rho, cut = screening
                cut = tapers[(i, j)].cutoff_A or cut
                gamma_sigma, c = tapers[(i, j)].parameters(rho, cut)
                pair_params[(i, j)] = (cut, gamma_sigma, c)
        table_terms = {}
        for t in terms:
            for j, k in ((t.j, t.k), (t.k, t.j)):
                if (t.center, j) not in pair_params or (t.center, k) not in pair_params:
                    raise PotentialError(
                        f"force field '{self.name}': three-body term {t.center}-{t.j}-{t.k} needs the terms "
                        f"{t.center}-{j}-{j} and {t.center}-{k}-{k}, which set its cutoffs"
                    )
                for pair in ((t.center, j), (t.center, k)):
                    if abs(self.pair_screening(*pair)[0] - t.rho) > 1e-12:
                        raise PotentialError(
                            f"force field '{self.name}': the taper needs one screening length per pair; "
                            f"{t.center}-{t.j}-{t.k} has rho {t.rho}"
                        )
                table_terms[(t.center, j, k)] = t
        theta = np.linspace(0.0, 180.0, 1801)
        sections = {"ZERO": (np.zeros_like(theta), np.zeros_like(theta))}
        lines = [
            "# generated by vitreous: smooth three-body terms (Stillinger-Weber screening, tabulated angle)",
            "# i j k epsilon sigma a lambda gamma costheta0 A B p q tol table keyword style N",
        ]
        for i in elements:
            for j in elements:
                for k in elements:
                    cut, gamma_sigma, _ = pair_params.get((i, j), (0.1, 0.0, 1.0)) if j == k else (0.1, 0.0, 1.0)
                    t = table_terms.get((i, j, k))
                    key = "ZERO"
                    if t is not None:
                        key = f"{i}_{j}_{k}"
                        scale = t.K / (pair_params[(i, j)][2] * pair_params[(i, k)][2])
                        d = np.radians(theta - t.theta0)
                        sections[key] = (scale * d**2, -2.0 * scale * d * math.pi / 180.0)
                    # epsilon sigma a lambda gamma cos0 A B p q tol: two-body off (A = 0), cut = a·σ
                    sw = f"1.0 1.0 {cut!r} 0.0 {gamma_sigma!r} 0.0 0.0 0.0 4.0 0.0 0.0"
                    lines.append(f"{i} {j} {k} {sw} {table} {key} spline 1801")
        out = ["# generated by vitreous: angle (deg), energy (eV), -dE/dtheta (eV/deg)"]
        for key, (e, f) in sections.items():
            out += ["", key, f"N {theta.size}", ""]
            out += [
                f"{n + 1} {a:.6f} {ei:.12e} {fi:.12e}" for n, (a, ei, fi) in enumerate(zip(theta, e, f, strict=True))
            ]
        return "\n".join(lines) + "\n", "\n".join(out) + "\n"

    def describe(self) -> dict:
        """JSON-able description (for run summaries)."""
        return {
            "name": self.name,
            "title": self.title,
            "reference": self.reference,
            "charges": {_key(s): q for s, q in self.charges.items()},
            "short_range_cutoff_A": self.short_range_cutoff_A,
            "notes": list(self.notes),
            **({"variant_of": self.base} if self.base else {}),
            **(
                {
                    "three_body_taper": {
                        f"{t.center}-{t.other}": {"match_r_A": t.match_r_A, "cutoff_A": t.cutoff_A}
                        for t in self.three_body_taper
                    }
                }
                if self.three_body_taper
                else {}
            ),
        }


def _forcefield_dir():
    return resources.files("vitreous.data").joinpath("forcefields")


def available_forcefields() -> list[str]:
    """Names of the built-in force fields."""
    return sorted(p.name[: -len(".toml")] for p in _forcefield_dir().iterdir() if p.name.endswith(".toml"))


def load_forcefield(name_or_path: str) -> ForceField:
    """Load a built-in force field by name, or a TOML file of the same layout.

    A set may name a built-in ``base`` and give only what differs (a variant); the file is
    read afresh on every call, built-in sets once.

    Raises
    ------
    PotentialError
        On an unknown name or an incomplete/malformed file.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        return _parse_forcefield(path.read_text(), str(path))
    return _builtin_forcefield(name_or_path)


@cache
def _builtin_forcefield(name: str) -> ForceField:
    resource = _forcefield_dir().joinpath(f"{name}.toml")
    if not resource.is_file():
        raise PotentialError(
            f"unknown force field '{name}'",
            hint=f"available: {', '.join(available_forcefields())}, or a .toml file",
        )
    return _parse_forcefield(resource.read_text(), name)


def _parse_forcefield(text: str, name_or_path: str) -> ForceField:
    try:
        raw = tomllib.loads(text)
        if "base" in raw:
            base = tomllib.loads(_forcefield_dir().joinpath(f"{raw['base']}.toml").read_text())
            if "base" in base:
                raise PotentialError(f"force field '{name_or_path}': a variant's base must not itself be a variant")
            raw = {**base, **raw}
        charges = {_species(k): float(v) for k, v in raw["charges"].items()}
        pedone = tuple(
            PedonePair(
                _species(d["pair"][0]),
                _species(d["pair"][1]),
                float(d["D"]),
                float(d["a"]),
                float(d["r0"]),
                float(d["C"]),
                d.get("source", raw["name"]),
            )
            for d in raw.get("pedone", [])
        )
        buck = tuple(
            Buckingham(
                _species(d["pair"][0]),
                _species(d["pair"][1]),
                float(d["A"]),
                float(d["rho"]),
                float(d["C"]),
                d.get("source", raw["name"]),
            )
            for d in raw.get("buckingham", [])
        )
        three = tuple(
            ThreeBody(
                *(re.sub(r"[+-].*$", "", e) for e in d["triplet"]),
                float(d["K"]),
                float(d["theta0"]),
                float(d["rho"]),
                float(d["cutoff"]),
            )
            for d in raw.get("three_body", [])
        )
        ff = ForceField(
            name=raw["name"],
            title=raw.get("title", raw["name"]),
            reference=raw["reference"],
            charges=charges,
            pedone=pedone,
            buckingham=buck,
            three_body=three,
            short_range_cutoff_A=float(raw.get("short_range_cutoff_A", 7.0)),
            notes=tuple(raw.get("notes", ())),
            three_body_taper=tuple(
                ThreeBodyTaper(
                    *(re.sub(r"[+-].*$", "", e) for e in d["pair"]),
                    float(d["match_r_A"]),
                    float(d["cutoff_A"]) if "cutoff_A" in d else None,
                )
                for d in raw.get("three_body_taper", [])
            ),
            base=raw.get("base", ""),
        )
    except PotentialError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise PotentialError(f"malformed force field '{name_or_path}': {exc}") from None
    return ff
