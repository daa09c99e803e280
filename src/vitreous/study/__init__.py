"""Studies: a TOML spec → task graph → executor (serial or Dask) → SQLite run store."""

from vitreous.study.runner import run_study
from vitreous.study.spec import StudySpec, builtin_study, load_study

__all__ = ["StudySpec", "builtin_study", "load_study", "run_study"]
