"""Shared CLI plumbing: one error path, the debug switch, JSON output and the console."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from vitreous.errors import InputFileError, VitreousError

console = Console()
err_console = Console(stderr=True)
STATE: dict[str, bool] = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, hint: str | None = None) -> None:
    """Print a one-line error (with its hint) to stderr and exit with status 2."""
    text = f"error: {message}" + (f" (hint: {hint})" if hint else "")
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def handle_errors(func: F) -> F:
    """Turn a :class:`VitreousError` into a one-line message and exit 2 (traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except VitreousError as exc:
            if STATE["debug"]:
                raise
            fail(exc.message, exc.hint)
        except KeyboardInterrupt:
            err_console.print("interrupted; rerun the same command to resume where possible")
            raise typer.Exit(130) from None
        except Exception as exc:
            if STATE["debug"]:
                raise
            err_console.print(
                f"internal error: {type(exc).__name__}: {exc} (hint: rerun with --debug and report it)",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as JSON atomically, with a clear error for an unwritable path."""
    from vitreous.io.structures import atomic_write

    if path.is_dir():
        raise InputFileError(f"{path} is a folder", hint="give a file name such as summary.json")
    try:
        with atomic_write(path) as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
    except PermissionError:
        raise InputFileError(f"cannot write {path}", hint="choose a writable path") from None


def check_writable(path: Path) -> None:
    """Refuse an output path that is a folder or whose folder is missing or not writable."""
    import os

    from vitreous.errors import InputFileError

    if path.is_dir():
        raise InputFileError(f"{path} is a folder", hint="give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputFileError(f"folder {parent} does not exist", hint="create it or choose another path")
    if not os.access(parent, os.W_OK):
        raise InputFileError(f"cannot write to folder {parent}", hint="choose a writable path")
