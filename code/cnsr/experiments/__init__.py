"""The paper's partitioning experiments as one resumable suite (``code/run-experiments.py``).

- :mod:`.suite` the suite file: datasets, experiments, scales (small / paper) and their configs
- :mod:`.runner` generating, training, measuring, resuming; the output folder's layout
- :mod:`.columns` what is measured of a finished run, one function per group of table columns
- :mod:`.report` the tables beside the paper's numbers (Markdown and JSON)
- :mod:`.backend` the calls into the rest of cnsr (data generation, trainer, evaluation)
"""
from .columns import COLUMN_GROUPS, RunContext, register_group
from .report import TABLE_BUILDERS
from .runner import Runner
from .suite import DEFAULT_SUITE, Experiment, Suite, SuiteError

__all__ = ["COLUMN_GROUPS", "RunContext", "register_group", "TABLE_BUILDERS", "Runner", "DEFAULT_SUITE",
           "Experiment", "Suite", "SuiteError"]
