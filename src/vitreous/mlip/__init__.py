"""Machine-learned interatomic potentials: labelled data sets and their error metrics (the
trainers and MLIP MD are being built; see issue 13)."""

from vitreous.mlip.dataset import (
    descriptor,
    error_metrics,
    label_frames,
    read_dataset,
    select_frames,
    split,
    write_dataset,
)

__all__ = ["descriptor", "error_metrics", "label_frames", "read_dataset", "select_frames", "split", "write_dataset"]
