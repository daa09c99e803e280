"""Oxide compositions → charge-neutral integer atom counts.

A composition is a set of oxides ``M_aO_b`` with amounts in mol %. The cation's formal
valence follows from the formula, ``z = 2b/a`` (V2O4 → V4+, V2O5 → V5+, P2O5 → P5+,
Na2O → Na+); oxygen is O²⁻. A *species* is an (element, valence) pair; a glass model is a
mapping species → integer count.

The integer model (:func:`counts`) minimises the squared deviation of the achieved oxide
mol % from the target,

    χ² = Σ_i (x_i^achieved − x_i^target)²   (mol %²),

over all cation counts whose total atom number, oxygen included, lies within ±1 % of the
requested size, subject to exact charge neutrality with formal charges
(N_O = Σ_j z_j N_j / 2 an integer) and at least one cation of every oxide. Ties are
broken by the distance to the requested size. The achieved moles of oxide ``M_aO_b`` are
``N_M / a`` (half formula units are allowed; neutrality is enforced on the whole model).
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from vitreous.errors import CompositionError
from vitreous.units import ANGSTROM3_TO_CM3, AVOGADRO

__all__ = [
    "DEFAULT_VALENCE",
    "Composition",
    "GlassModel",
    "Oxide",
    "Preset",
    "Species",
    "box_edge_A",
    "counts",
    "from_counts",
    "get_preset",
    "parse_composition",
    "parse_oxide",
    "presets",
    "resolve",
    "species_label",
    "with_v4_fraction",
]

#: Usual formal valence of elements in oxide glasses, used where none is given.
DEFAULT_VALENCE: dict[str, int] = {
    "O": -2,
    "H": 1,
    "Li": 1,
    "Na": 1,
    "K": 1,
    "Rb": 1,
    "Cs": 1,
    "Ag": 1,
    "Cu": 2,
    "Be": 2,
    "Mg": 2,
    "Ca": 2,
    "Sr": 2,
    "Ba": 2,
    "Zn": 2,
    "Pb": 2,
    "Mn": 2,
    "Ni": 2,
    "Co": 2,
    "B": 3,
    "Al": 3,
    "Ga": 3,
    "La": 3,
    "Y": 3,
    "Fe": 3,
    "Cr": 3,
    "Bi": 3,
    "Si": 4,
    "Ge": 4,
    "Ti": 4,
    "Zr": 4,
    "Sn": 4,
    "Te": 4,
    "P": 5,
    "V": 5,
    "Nb": 5,
    "Ta": 5,
    "As": 5,
    "Sb": 5,
    "Mo": 6,
    "W": 6,
    "S": 6,
}

_SUM_TOLERANCE = 0.5  # mol %: amounts must add up to 100 within this
_FORMULA_RE = re.compile(r"^([A-Z][a-z]?)(\d*)O(\d*)$")
_TERM_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([A-Za-z0-9]+)\s*$")


@dataclass(frozen=True, order=True)
class Species:
    """An atomic species: element with its formal valence (O is −2)."""

    element: str
    valence: int

    @property
    def mass_amu(self) -> float:
        """Standard atomic mass in amu (ASE's IUPAC table)."""
        return float(atomic_masses[atomic_numbers[self.element]])


OXYGEN = Species("O", -2)


@dataclass(frozen=True)
class Oxide:
    """An oxide formula ``M_aO_b`` with its cation valence ``2b/a``."""

    formula: str
    cation: str
    n_cation: int
    n_oxygen: int

    @property
    def valence(self) -> int:
        """Formal cation valence, 2b/a."""
        return 2 * self.n_oxygen // self.n_cation

    @property
    def species(self) -> Species:
        """The cation species of this oxide."""
        return Species(self.cation, self.valence)

    @property
    def atoms_per_unit(self) -> int:
        """Atoms in one formula unit, a + b."""
        return self.n_cation + self.n_oxygen

    @property
    def molar_mass_g_mol(self) -> float:
        """Molar mass of one formula unit (g/mol)."""
        return self.n_cation * self.species.mass_amu + self.n_oxygen * OXYGEN.mass_amu


def parse_oxide(formula: str) -> Oxide:
    """Parse an oxide formula such as ``"V2O5"``, ``"SiO2"`` or ``"Na2O"``.

    Raises
    ------
    CompositionError
        If the formula is not ``M_aO_b`` with a known element M (not O) and an integer
        cation valence 2b/a.
    """
    text = formula.strip()
    m = _FORMULA_RE.match(text)
    if not m:
        raise CompositionError(
            f"'{formula}' is not an oxide formula",
            hint="write oxides as M_aO_b, e.g. Na2O, V2O5, SiO2, P2O5",
        )
    element, a, b = m.group(1), int(m.group(2) or 1), int(m.group(3) or 1)
    if element not in chemical_symbols[1:] or element == "O":
        raise CompositionError(
            f"unknown element '{element}' in oxide '{formula}'",
            hint="use a chemical symbol with correct case, e.g. Na, V, P",
        )
    if a <= 0 or b <= 0 or (2 * b) % a:
        raise CompositionError(
            f"oxide '{formula}' gives a non-integer cation valence 2*{b}/{a}",
            hint="split mixed-valence oxides, e.g. Fe3O4 -> FeO + Fe2O3",
        )
    return Oxide(formula=text, cation=element, n_cation=a, n_oxygen=b)


@dataclass(frozen=True)
class Composition:
    """Oxide amounts in mol %, normalised to add up to exactly 100.

    Use :func:`parse_composition` to build one from user input.
    """

    oxides: tuple[Oxide, ...]
    mol_percent: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        """Mapping oxide formula → mol %."""
        return {o.formula: x for o, x in zip(self.oxides, self.mol_percent, strict=True)}

    def __str__(self) -> str:
        return "-".join(f"{x:g}{o.formula}" for o, x in zip(self.oxides, self.mol_percent, strict=True))

    @property
    def species(self) -> list[Species]:
        """Cation species in formula order, then O."""
        return [o.species for o in self.oxides] + [OXYGEN]

    @property
    def mean_molar_mass_g_mol(self) -> float:
        """Molar mass of one mole of the mixed oxide, Σ x_i M_i (g/mol)."""
        return sum(x / 100 * o.molar_mass_g_mol for o, x in zip(self.oxides, self.mol_percent, strict=True))


def parse_composition(spec: str | Mapping[str, Any]) -> Composition:
    """Parse a composition from a mapping or a string.

    Parameters
    ----------
    spec : str or mapping
        ``{"Na2O": 28.5, "V2O4": 5.59, ...}`` or ``"28.5Na2O-5.59V2O4-37.41V2O5-28.5P2O5"``
        (terms separated by ``-``, ``+``, ``,`` or spaces), amounts in mol %.

    Raises
    ------
    CompositionError
        On unknown oxides, non-numeric or non-positive amounts, duplicate oxides, or
        amounts that do not add up to 100 ± 0.5 mol %.
    """
    if isinstance(spec, str):
        terms = [t for t in re.split(r"[-+,\s]+(?=[0-9.])", spec.strip()) if t.strip()]
        if not terms:
            raise CompositionError("empty composition", hint="e.g. 50V2O5-50P2O5")
        pairs: list[tuple[str, Any]] = []
        for term in terms:
            m = _TERM_RE.match(term)
            if not m:
                raise CompositionError(
                    f"cannot read '{term}' in composition '{spec}'",
                    hint="write amount then oxide, e.g. 28.5Na2O-71.5P2O5",
                )
            pairs.append((m.group(2), m.group(1)))
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        raise CompositionError(f"cannot read a composition from {type(spec).__name__}")
    if not pairs:
        raise CompositionError("empty composition", hint="e.g. {'V2O5': 50, 'P2O5': 50}")

    oxides: list[Oxide] = []
    amounts: list[float] = []
    for formula, amount in pairs:
        oxide = parse_oxide(str(formula))
        if isinstance(amount, bool):
            raise CompositionError(f"amount of {formula} is not a number: {amount!r}")
        try:
            value = float(amount)
        except (TypeError, ValueError):
            raise CompositionError(
                f"amount of {formula} is not a number: {amount!r}", hint="give mol % as numbers"
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise CompositionError(
                f"amount of {formula} must be positive, got {amount!r}",
                hint="leave out oxides that are absent",
            )
        if any(o.formula == oxide.formula for o in oxides):
            raise CompositionError(f"oxide {oxide.formula} is given twice")
        if any(o.species == oxide.species for o in oxides):
            raise CompositionError(f"two oxides give the same cation species {oxide.species}")
        oxides.append(oxide)
        amounts.append(value)
    total = sum(amounts)
    if abs(total - 100.0) > _SUM_TOLERANCE:
        raise CompositionError(
            f"amounts add up to {total:g} mol %, not 100",
            hint=f"give mol % that sum to 100 within {_SUM_TOLERANCE}",
        )
    return Composition(tuple(oxides), tuple(100.0 * a / total for a in amounts))


@dataclass(frozen=True)
class Preset:
    """A named glass of the study: composition, measured density and properties."""

    name: str
    description: str
    composition: Composition
    density_g_cm3: float
    tg_C: float | None
    v4_fraction_measured: float | None
    paper_sizes: tuple[int, ...]


@cache
def presets() -> dict[str, Preset]:
    """The built-in presets (``data/presets.toml``) keyed by name."""
    raw = tomllib.loads(resources.files("vitreous.data").joinpath("presets.toml").read_text())
    out = {}
    for name, d in raw.items():
        out[name] = Preset(
            name=name,
            description=d["description"],
            composition=parse_composition(d["mol_percent"]),
            density_g_cm3=float(d["density_g_cm3"]),
            tg_C=d.get("tg_C"),
            v4_fraction_measured=d.get("v4_fraction_measured"),
            paper_sizes=tuple(d.get("paper_sizes", ())),
        )
    return out


def get_preset(name: str) -> Preset:
    """Return a preset by (case-insensitive) name."""
    table = presets()
    for key, preset in table.items():
        if key.lower() == name.strip().lower():
            return preset
    raise CompositionError(f"unknown preset '{name}'", hint=f"presets are {', '.join(table)}; or give a composition")


def resolve(spec: str | Mapping[str, Any]) -> tuple[Composition, Preset | None]:
    """A preset name or a composition → (composition, preset or None)."""
    if isinstance(spec, str) and spec.strip().lower() in {k.lower() for k in presets()}:
        preset = get_preset(spec)
        return preset.composition, preset
    return parse_composition(spec), None


def with_v4_fraction(composition: Composition, v4_fraction: float) -> Composition:
    """The same glass with its vanadium split as V2O4/V2O5 by a measured V4+ fraction.

    Total vanadium (2 × (x_V2O4 + x_V2O5) per 100 mol of oxides) and every other oxide stay
    as they are: x_V2O4 = f x_V, x_V2O5 = (1 − f) x_V with x_V = x_V2O4 + x_V2O5 (mol %),
    f = N(V4+) / N(V), e.g. from XPS. A fraction of 0 or 1 drops the absent oxide.

    Raises
    ------
    CompositionError
        ``v4_fraction`` outside [0, 1], or a composition without V2O4/V2O5.
    """
    if not (0.0 <= v4_fraction <= 1.0) or not math.isfinite(v4_fraction):
        raise CompositionError(f"V4+ fraction must be within 0-1, got {v4_fraction}", hint="e.g. 0.13")
    amounts = composition.as_dict()
    x_v = amounts.pop("V2O4", 0.0) + amounts.pop("V2O5", 0.0)
    if x_v <= 0:
        raise CompositionError(f"composition {composition} has no V2O4 or V2O5", hint="a V4+ fraction needs vanadium")
    new = dict(amounts)
    if v4_fraction > 0:
        new["V2O4"] = v4_fraction * x_v
    if v4_fraction < 1:
        new["V2O5"] = (1.0 - v4_fraction) * x_v
    return parse_composition(new)


def species_label(species: Species, all_species: list[Species] | tuple[Species, ...]) -> str:
    """Short label: the symbol, plus the valence where the element has several (``V4``)."""
    if species.element == "O":
        return "O"
    same = [s for s in all_species if s.element == species.element]
    return species.element if len(same) == 1 else f"{species.element}{species.valence}"


@dataclass(frozen=True)
class GlassModel:
    """Integer, charge-neutral atom counts of a glass model and what they achieve.

    Attributes
    ----------
    composition : Composition
        The target composition.
    counts : dict[Species, int]
        Atoms per species, oxygen included.
    """

    composition: Composition
    counts: dict[Species, int] = field(hash=False)

    @property
    def n_atoms(self) -> int:
        """Total number of atoms."""
        return sum(self.counts.values())

    @property
    def labels(self) -> dict[str, int]:
        """Counts keyed by species label (``{"Na": 40, "V4": 8, ...}``)."""
        species = list(self.counts)
        return {species_label(s, species): n for s, n in self.counts.items()}

    @property
    def charge(self) -> int:
        """Total formal charge (0 for a valid model)."""
        return sum(s.valence * n for s, n in self.counts.items())

    @property
    def achieved_mol_percent(self) -> dict[str, float]:
        """Oxide mol % achieved by the integer counts (moles of M_aO_b = N_M / a)."""
        moles = {o.formula: self.counts.get(o.species, 0) / o.n_cation for o in self.composition.oxides}
        total = sum(moles.values())
        return {k: 100.0 * v / total for k, v in moles.items()}

    @property
    def deviation_mol_percent(self) -> dict[str, float]:
        """Achieved minus target mol % per oxide."""
        ach = self.achieved_mol_percent
        return {k: ach[k] - v for k, v in self.composition.as_dict().items()}

    @property
    def valence_fractions(self) -> dict[str, dict[int, float]]:
        """For each element present with several valences, the fraction of each valence."""
        out: dict[str, dict[int, float]] = {}
        for element in {s.element for s in self.counts}:
            same = {s.valence: n for s, n in self.counts.items() if s.element == element}
            if len(same) > 1:
                total = sum(same.values())
                out[element] = {v: n / total for v, n in sorted(same.items())}
        return out

    @property
    def v4_fraction(self) -> float | None:
        """N(V4+) / N(V); None when there is no V."""
        n_v = sum(n for s, n in self.counts.items() if s.element == "V")
        return None if n_v == 0 else self.counts.get(Species("V", 4), 0) / n_v

    @property
    def total_mass_amu(self) -> float:
        """Mass of the model (amu)."""
        return sum(s.mass_amu * n for s, n in self.counts.items())

    def box_edge_A(self, density_g_cm3: float) -> float:
        """Cubic box edge (Å) that gives this model the density (g/cm³)."""
        return box_edge_A(self.total_mass_amu, density_g_cm3)

    def summary(self, density_g_cm3: float | None = None) -> dict[str, Any]:
        """JSON-able summary: counts, achieved mol %, deviation, V4+ fraction, box."""
        out: dict[str, Any] = {
            "composition": str(self.composition),
            "target_mol_percent": self.composition.as_dict(),
            "counts": self.labels,
            "n_atoms": self.n_atoms,
            "achieved_mol_percent": self.achieved_mol_percent,
            "deviation_mol_percent": self.deviation_mol_percent,
            "v4_fraction": self.v4_fraction,
            "total_mass_amu": self.total_mass_amu,
        }
        if density_g_cm3 is not None:
            out["density_g_cm3"] = density_g_cm3
            out["box_edge_A"] = self.box_edge_A(density_g_cm3)
        return out


def box_edge_A(total_mass_amu: float, density_g_cm3: float) -> float:
    """Edge (Å) of the cube holding ``total_mass_amu`` at ``density_g_cm3``.

    L = (m / (N_A ρ))^(1/3), with m in g and ρ in g/cm³, converted from cm to Å.
    """
    if not math.isfinite(density_g_cm3) or density_g_cm3 <= 0:
        raise CompositionError(f"density must be positive, got {density_g_cm3} g/cm³", hint="e.g. --density 2.939")
    volume_cm3 = total_mass_amu / AVOGADRO / density_g_cm3
    return (volume_cm3 / ANGSTROM3_TO_CM3) ** (1.0 / 3.0)


def _chi2(composition: Composition, cation_counts: tuple[int, ...]) -> float:
    moles = [n / o.n_cation for n, o in zip(cation_counts, composition.oxides, strict=True)]
    total = sum(moles)
    return sum((100.0 * m / total - x) ** 2 for m, x in zip(moles, composition.mol_percent, strict=True))


def counts(
    composition: Composition | str | Mapping[str, Any],
    n_atoms: int,
    tolerance: float = 0.01,
) -> GlassModel:
    """Charge-neutral integer counts closest to a composition at about ``n_atoms`` atoms.

    Minimises χ² = Σ_i (x_i^achieved − x_i^target)² (mol %²) over cation counts with a total
    atom number within ``n_atoms·(1 ± tolerance)``, exact neutrality with formal charges and
    at least one cation per oxide; ties go to the total closest to ``n_atoms``.

    Parameters
    ----------
    composition : Composition, str or mapping
        Target composition (a preset name is accepted too).
    n_atoms : int
        Requested model size.
    tolerance : float
        Allowed relative deviation of the total from ``n_atoms`` (default 1 %).

    Returns
    -------
    GlassModel

    Raises
    ------
    CompositionError
        If ``n_atoms`` is too small to hold one cation of each oxide with its oxygen, or no
        neutral model exists in the allowed size range.
    """
    if not isinstance(composition, Composition):
        composition = resolve(composition)[0]
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, int | float) or n_atoms != int(n_atoms):
        raise CompositionError(f"number of atoms must be an integer, got {n_atoms!r}")
    n_atoms = int(n_atoms)
    oxides = composition.oxides
    # Smallest neutral model: one cation of each oxide, oxygen rounded up to neutrality.
    min_atoms = len(oxides) + math.ceil(sum(o.valence for o in oxides) / 2)
    if n_atoms < min_atoms:
        raise CompositionError(
            f"{n_atoms} atoms cannot represent the {len(oxides)} oxides of {composition}",
            hint=f"ask for at least {min_atoms} atoms (more for a meaningful composition)",
        )
    lo = math.ceil(n_atoms * (1 - tolerance))
    hi = math.floor(n_atoms * (1 + tolerance))
    # atoms per mole of mixed oxide
    atoms_per_mol = sum(x / 100 * o.atoms_per_unit for o, x in zip(oxides, composition.mol_percent, strict=True))
    best: tuple[float, int, tuple[int, ...]] | None = None
    candidates_per_total: set[tuple[int, ...]] = set()
    for total in range(lo, hi + 1):
        mol = total / atoms_per_mol
        ranges = []
        for o, x in zip(oxides, composition.mol_percent, strict=True):
            ideal = x / 100 * mol * o.n_cation
            base = math.floor(ideal)
            ranges.append([c for c in range(base - 1, base + 3) if c >= 1])
        candidates_per_total.update(itertools.product(*ranges))
    for cations in candidates_per_total:
        charge = sum(c * o.valence for c, o in zip(cations, oxides, strict=True))
        if charge % 2:
            continue
        n_total = sum(cations) + charge // 2
        if not lo <= n_total <= hi:
            continue
        key = (_chi2(composition, cations), abs(n_total - n_atoms), cations)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        sizes = _neutral_sizes_near(composition, n_atoms)
        raise CompositionError(
            f"no charge-neutral model of {composition} within ±{tolerance:.0%} of {n_atoms} atoms",
            hint=f"the nearest neutral sizes are {', '.join(map(str, sizes))} atoms",
        )
    cations = best[2]
    result = {o.species: c for o, c in zip(oxides, cations, strict=True)}
    result[OXYGEN] = sum(c * o.valence for c, o in zip(cations, oxides, strict=True)) // 2
    return GlassModel(composition, result)


def _neutral_sizes_near(composition: Composition, n_atoms: int) -> list[int]:
    """Totals of neutral models near ``n_atoms`` (for error hints)."""
    sizes = set()
    for tol in (0.05, 0.2, 0.5):
        try:
            sizes.add(counts(composition, n_atoms, tolerance=tol).n_atoms)
        except CompositionError:
            continue
    return sorted(sizes)[:3] or [n_atoms]


def from_counts(explicit: Mapping[str, int], composition: Composition | None = None) -> GlassModel:
    """A glass model from explicit counts such as ``{"Na": 40, "V4": 8, "O": 24}``.

    Labels are a symbol with the valence (``"V4"``) or a bare symbol, whose valence is taken
    from ``composition`` when it has that element in one valence, else from
    :data:`DEFAULT_VALENCE` (V bare is V5+). Oxygen is ``"O"``.

    Raises
    ------
    CompositionError
        On unknown labels, negative counts, a non-neutral total or no oxygen.
    """
    counts_: dict[Species, int] = {}
    for label, n in explicit.items():
        m = re.match(r"^([A-Z][a-z]?)(\d*)$", str(label).strip())
        if not m or m.group(1) not in chemical_symbols[1:]:
            raise CompositionError(f"unknown species label '{label}'", hint="e.g. Na, V4, V5, P, O")
        element, valence = m.group(1), m.group(2)
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise CompositionError(f"count of {label} must be a non-negative integer, got {n!r}")
        if element == "O":
            species = OXYGEN
        elif valence:
            species = Species(element, int(valence))
        elif composition is not None and sum(o.cation == element for o in composition.oxides) == 1:
            species = next(o.species for o in composition.oxides if o.cation == element)
        elif element in DEFAULT_VALENCE:
            species = Species(element, DEFAULT_VALENCE[element])
        else:
            raise CompositionError(
                f"valence of '{label}' is unknown",
                hint=f"write it with its valence, e.g. {element}5",
            )
        counts_[species] = counts_.get(species, 0) + int(n)
    if counts_.get(OXYGEN, 0) == 0:
        raise CompositionError("explicit counts have no oxygen", hint="add O")
    charge = sum(s.valence * n for s, n in counts_.items())
    if charge:
        raise CompositionError(
            f"explicit counts carry a net formal charge of {charge:+d} e",
            hint="adjust O (each carries -2) or the cations",
        )
    if composition is None:
        # infer the oxides from the cations: M_aO_b with the smallest integers giving z
        oxides = []
        amounts = []
        for s, n in counts_.items():
            if s.element == "O":
                continue
            # smallest formula (SiO2, CaO), but M2O_z for mixed-valence elements as in the
            # NVP study (V2O4 next to V2O5)
            mixed = sum(t.element == s.element for t in counts_) > 1
            a, b = (2, s.valence) if s.valence % 2 or mixed else (1, s.valence // 2)
            formula = f"{s.element}{a if a > 1 else ''}O{b if b > 1 else ''}"
            oxides.append(parse_oxide(formula))
            amounts.append(n / a)
        total = sum(amounts)
        composition = Composition(tuple(oxides), tuple(100 * a / total for a in amounts))
    return GlassModel(composition, counts_)
