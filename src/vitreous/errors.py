"""Exception hierarchy of vitreous.

Every error raised on purpose by the library derives from :class:`VitreousError`, so
callers (and the CLI) can catch one type. Each carries an optional ``hint`` telling the
user what to change.
"""

from __future__ import annotations


class VitreousError(Exception):
    """Base of all errors raised by vitreous on purpose.

    Parameters
    ----------
    message : str
        What went wrong, one line.
    hint : str, optional
        What the user can do about it, one line.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class CompositionError(VitreousError, ValueError):
    """A composition, oxide formula or atom count is invalid."""


class BuildError(VitreousError, RuntimeError):
    """A structure could not be built (e.g. impossible packing)."""


class InputFileError(VitreousError, OSError):
    """A file cannot be read, parsed or written."""


class PotentialError(VitreousError, ValueError):
    """A force field is incomplete or does not cover a structure's species."""


class ProtocolError(VitreousError, ValueError):
    """A simulation protocol is invalid."""


class EngineError(VitreousError, RuntimeError):
    """A simulation engine failed (blow-up, lost atoms, unconverged SCF, ...)."""


class AnalysisError(VitreousError, ValueError):
    """An analysis cannot be computed on the given input."""


class StudyError(VitreousError, ValueError):
    """A study file or run store is invalid."""
