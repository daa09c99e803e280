"""A trained machine-learned potential as a folder: model files + ``card.json``.

The card says what the model is and what it stands on: ``model`` (``pod``, ``gap``,
``mace``), ``reference`` (what produced the labels: ``cp2k:<preset>`` is DFT,
``teacher:<model>`` a universal MLIP, ``classical:<set>`` a classical field — never
conflated), the hash of the training data, hyperparameters, train/validation/test metrics,
package versions, training time, the elements and (element, valence) species it was trained
on, the shortest distance of every element pair in its training data, and the files an
engine loads.

:class:`MLIPModel` implements :class:`~vitreous.potentials.base.Potential`: POD runs inside
LAMMPS (``pair_style pod``; MPI and the cluster path unchanged), GAP and MACE through their
ASE calculators on the ASE backend of the MD driver.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vitreous.composition import Species
from vitreous.errors import PotentialError

__all__ = ["CARD", "MODEL_KINDS", "MLIPModel", "load_model", "pair_min_distances"]

CARD = "card.json"
#: model kinds; the first is the default of ``vitreous mlip train``
MODEL_KINDS = ("pod", "gap", "mace")
#: a run stops when a pair comes closer than this fraction of the shortest distance of
#: that element pair in the model's training data (the model has never seen closer)
CLOSE_CONTACT_FRACTION = 0.75


def pair_min_distances(frames: Sequence[Any], cutoff_A: float = 4.0) -> dict[str, float]:
    """Shortest distance (Å) of every element pair (``"Na-O"``, sorted symbols) over frames."""
    from vesin import NeighborList

    out: dict[str, float] = {}
    nl = NeighborList(cutoff=cutoff_A, full_list=False)
    for a in frames:
        sym = np.array(a.get_chemical_symbols())
        i, j, d = nl.compute(points=a.positions, box=a.cell.array, periodic=True, quantities="ijd")
        for x, y, r in zip(sym[i], sym[j], d, strict=True):
            key = "-".join(sorted((str(x), str(y))))
            if r < out.get(key, np.inf):
                out[key] = float(r)
    return dict(sorted(out.items()))


#: core repulsion k (r_c − r)³ below r_c = CORE_FRACTION × each pair's shortest training
#: distance (at 1.0 it touched held-out test frames: 80 meV/atom test error, measured)
CORE_REPULSION_K_EV_A3 = 1000.0
CORE_FRACTION = 0.85


def _core_table(min_distances: dict[str, float], k: float, n: int = 2000) -> str:
    """LAMMPS ``pair_style table`` sections: E = k (r_c − r)³ for r < r_c (zero, with its
    first two derivatives, at r_c = :data:`CORE_FRACTION` × the pair's shortest training
    distance), one per pair."""
    lines = ["# vitreous: core repulsion below the shortest distances of the training data", ""]
    for key, r_min in min_distances.items():
        r_c = CORE_FRACTION * r_min
        r = np.linspace(0.05, r_c, n)
        e = k * (r_c - r) ** 3
        f = 3.0 * k * (r_c - r) ** 2
        lines += [key, f"N {n} R 0.05 {r_c:.6f}", ""]
        lines += [f"{i + 1} {r[i]:.8f} {e[i]:.10e} {f[i]:.10e}" for i in range(n)]
        lines.append("")
    return "\n".join(lines) + "\n"


class _ZeroCharges(dict):
    """Every species has charge 0 (a short-ranged MLIP carries no point charges)."""

    def __missing__(self, key: Species) -> float:
        return 0.0


@dataclass
class MLIPModel:
    """A trained model folder (see the module docstring). Use :func:`load_model`."""

    path: Path
    card: dict[str, Any]
    charges: dict = field(default_factory=_ZeroCharges, repr=False)

    @property
    def kind(self) -> str:
        return str(self.card["model"])

    @property
    def name(self) -> str:
        return f"mlip:{self.kind}:{self.path.name}"

    @property
    def engines(self) -> tuple[str, ...]:
        return ("lammps", "ase") if self.kind == "pod" else ("ase",)

    @property
    def elements(self) -> list[str]:
        return list(self.card["elements"])

    def describe(self) -> dict[str, Any]:
        """Name, kind, label reference, data hash and test metrics (for run summaries)."""
        return {
            "name": self.name,
            "model": self.kind,
            "path": str(self.path),
            "reference": self.card["reference"],
            "data_sha256": self.card.get("data_sha256"),
            "test_metrics": {k: v for k, v in self.card.get("metrics", {}).get("test", {}).items() if "rmse" in k},
        }

    def check_covers(self, species: Sequence[Species]) -> None:
        """Refuse elements, and (element, valence) species, absent from the training data."""
        seen = {(s[0], int(s[1])) for s in self.card.get("species", [])}
        missing = sorted({s.element for s in species if s.element not in self.elements})
        if missing:
            raise PotentialError(
                f"model {self.path} was never trained on {', '.join(missing)}",
                hint=f"it knows {', '.join(self.elements)}",
            )
        unseen = sorted({f"{s.element}{s.valence:+d}" for s in species if seen and (s.element, s.valence) not in seen})
        if unseen:
            raise PotentialError(
                f"model {self.path} never saw the species {', '.join(unseen)} in its training data",
                hint="label structures with these valences and retrain, or give the structure the valences it knows",
            )

    def min_distances_A(self, fraction: float = CLOSE_CONTACT_FRACTION) -> dict[str, float]:
        """Close-contact thresholds (Å) per element pair: ``fraction`` × the shortest
        distance of that pair in the training data."""
        return {k: fraction * v for k, v in self.card.get("pair_min_distance_A", {}).items()}

    # ------------------------------------------------------------------ LAMMPS (POD)
    def type_species(self, present: Sequence[Species]) -> list[Species]:
        """LAMMPS atom types for a structure with species ``present``: element by element in
        the model's order (valences ascending), with an empty placeholder type for a model
        element the structure lacks. ``pair_style pod`` maps types to the parameter file's
        elements by the order in which names first appear on the ``pair_coeff`` line (LAMMPS
        ``map_element2type``), not by name, so this order is what makes the mapping right."""
        from vitreous.composition import DEFAULT_VALENCE

        out: list[Species] = []
        for el in self.elements:
            mine = sorted((s for s in present if s.element == el), key=lambda s: s.valence)
            out += mine or [Species(el, DEFAULT_VALENCE.get(el, 0))]
        return out

    def lammps_commands(self, type_species: Sequence[Species], coulomb: Any, workdir: Path) -> list[str]:
        """LAMMPS commands of a LAMMPS-native model on types 1..N (``coulomb`` unused: the
        model is short-ranged and learnt the whole interaction)."""
        if self.kind != "pod":
            raise PotentialError(f"a {self.kind} model does not run inside LAMMPS", hint="use the ase engine")
        self.check_covers(type_species)
        files = self.card["files"]
        param, coeff = (str(self.path / files[k]) for k in ("param", "coefficients"))
        names = " ".join(s.element for s in type_species)
        core = self.card.get("core_repulsion")
        if not core:
            return ["pair_style pod", f"pair_coeff * * {param} {coeff} {names}"]
        table = Path(workdir) / "core_repulsion.table"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(_core_table(self.card["pair_min_distance_A"], core["k_eV_A3"]))
        cmds = ["pair_style hybrid/overlay pod table linear 2000", f"pair_coeff * * pod {param} {coeff} {names}"]
        for a in range(len(type_species)):
            for b in range(a, len(type_species)):
                key = "-".join(sorted((type_species[a].element, type_species[b].element)))
                r_min = self.card["pair_min_distance_A"].get(key)
                if r_min is not None:
                    cmds.append(f"pair_coeff {a + 1} {b + 1} table {table} {key} {CORE_FRACTION * r_min:.6f}")
        return cmds

    # ------------------------------------------------------------------ ASE
    def calculator(self, threads: int = 1, workdir: str | os.PathLike | None = None) -> Any:
        """An ASE calculator of this model (energy eV, forces eV/Å, stress eV/Å³)."""
        files = self.card["files"]
        if self.kind == "pod":
            from vitreous.engines.lammps_calculator import LammpsCalculator

            return LammpsCalculator(self, None, threads, workdir=workdir)  # type: ignore[arg-type]
        if self.kind == "gap":
            try:
                from quippy.potential import Potential
            except ImportError as exc:
                raise PotentialError("GAP needs quippy-ase", hint="pip install quippy-ase") from exc
            return Potential(param_filename=str(self.path / files["model"]))
        if self.kind == "mace":
            try:
                from mace.calculators import MACECalculator
            except ImportError as exc:
                raise PotentialError("MACE needs mace-torch", hint="pip install 'vitreous[mace]'") from exc
            import torch

            torch.set_num_threads(threads)
            device = "cuda" if torch.cuda.is_available() else "cpu"
            return MACECalculator(model_paths=str(self.path / files["model"]), device=device, default_dtype="float64")
        raise PotentialError(f"unknown model kind '{self.kind}'", hint=f"one of {', '.join(MODEL_KINDS)}")


def load_model(path: str | os.PathLike) -> MLIPModel:
    """Load a trained model folder (``mlip:`` prefix allowed).

    Raises
    ------
    PotentialError
        When the folder, its card or a model file is missing or the card is malformed.
    """
    text = str(path)
    path = Path(text[len("mlip:") :] if text.startswith("mlip:") else text)
    card_path = path / CARD
    if not card_path.is_file():
        raise PotentialError(f"{path} is not a trained model (no {CARD})", hint="train one with vitreous mlip train")
    try:
        card = json.loads(card_path.read_text())
        kind, files = card["model"], card["files"]
        card["elements"], card["reference"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PotentialError(f"malformed model card {card_path}: {exc}") from None
    if kind not in MODEL_KINDS:
        raise PotentialError(f"unknown model kind '{kind}' in {card_path}", hint=f"one of {', '.join(MODEL_KINDS)}")
    absent = [f for f in files.values() if not (path / f).exists()]
    if absent:
        raise PotentialError(f"model {path} lacks {', '.join(absent)}")
    return MLIPModel(path.resolve(), card)
