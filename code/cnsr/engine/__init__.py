"""Training: the loop (:class:`Trainer`), checkpoints, TensorBoard monitoring, DDP, and the
Python entry point :func:`load_model`."""

_EXPORTS = {"Trainer": ".trainer", "load_model": ".api", "CheckpointError": ".checkpoint",
            "read_checkpoint": ".checkpoint", "save_checkpoint": ".checkpoint"}

__all__ = list(_EXPORTS)


def __getattr__(name):
    # lazy: ``train-gqn.py --help`` answers without importing torch (a second or more)
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
