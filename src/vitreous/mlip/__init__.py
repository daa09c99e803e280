"""Machine-learned interatomic potentials: labelled data sets (:mod:`.dataset`, small cells
in :mod:`.cells`), trainers (:mod:`.train`: POD, GAP, MACE), trained models as potentials
(:mod:`.models`) and their errors (:mod:`.evaluate`). MLIP MD goes through the one MD driver
(:func:`vitreous.engines.factory.mlip_md`)."""

from vitreous.mlip.dataset import (
    TEACHERS,
    descriptor,
    error_metrics,
    label_frames,
    read_dataset,
    select_diverse,
    select_frames,
    split,
    write_dataset,
)
from vitreous.mlip.models import MODEL_KINDS, MLIPModel, load_model

__all__ = [
    "MODEL_KINDS",
    "TEACHERS",
    "MLIPModel",
    "descriptor",
    "error_metrics",
    "label_frames",
    "load_model",
    "read_dataset",
    "select_diverse",
    "select_frames",
    "split",
    "write_dataset",
]
