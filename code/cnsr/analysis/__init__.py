"""What a trained model is used for after training: held-out evaluation (``evaluation``, against
the batches' own or re-rendered clean references: ``references``), compositing partitions of
different scenes (``compositing``) and measuring it against path-traced truth
(``compositing_benchmark``), neural rendering of a scene file (``neural_render``) and gradient x
input attributions (``attribution``). The command lines live in :mod:`cnsr.analysis.cli`."""
