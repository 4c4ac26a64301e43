"""What a trained model is used for after training: held-out evaluation (``evaluation``),
compositing partitions of different scenes (``compositing``) and gradient x input attributions
(``attribution``). The command lines live in :mod:`cnsr.analysis.cli`."""
