"""vitreous: oxide glasses from composition to structure, bonding and ion conductivity."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from vitreous.errors import (
    AnalysisError,
    BuildError,
    CompositionError,
    EngineError,
    InputFileError,
    PotentialError,
    ProtocolError,
    StudyError,
    VitreousError,
)

try:
    __version__ = version("vitreous")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AnalysisError",
    "BuildError",
    "CompositionError",
    "EngineError",
    "InputFileError",
    "PotentialError",
    "ProtocolError",
    "StudyError",
    "VitreousError",
    "__version__",
]
