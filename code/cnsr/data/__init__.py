"""Datasets: folder layout, factor batches, generation, EXR/.npz batch files and loading.

- :mod:`.exrbatch` our batch file format (one contact-sheet OpenEXR per batch) and :class:`DatasetError`
- :mod:`.npzbatch` the reference release's ``.npz`` batches
- :mod:`.batches` factor batches from the scene randomizers (the heart of partition training)
- :mod:`.json_batches` the reference's JSON folder layout (``batch%09d/scene%04d/view%03d.json``)
- :mod:`.layout` the training batch layout (``split_views``) and device moves (``batch_to_device``)
- :mod:`.views` rendering the views of scenes into batch arrays (``render_views``); camera jitter
- :mod:`.generate` rendering batches into dataset files (workers, shards, resume)
- :mod:`.loader` training batches from files; :func:`build_loader`, the :class:`LoaderFactory` signature
- :mod:`.onthefly` batches rendered while training (``cached_dataset: false``)
"""
from .exrbatch import BatchData, DatasetError, ExrBatchFile, read_batch_exr, read_batch_meta, write_batch_exr
from .layout import batch_to_device, condition_inputs, split_views
from .loader import BatchFileDataset, BatchLoader, LoaderFactory, build_loader, list_batch_files
from .npzbatch import read_batch_npz, write_batch_npz

__all__ = ["BatchData", "DatasetError", "ExrBatchFile", "read_batch_exr", "read_batch_meta", "write_batch_exr",
           "read_batch_npz", "write_batch_npz", "BatchFileDataset", "BatchLoader", "build_loader",
           "list_batch_files", "LoaderFactory", "batch_to_device", "condition_inputs", "split_views"]
