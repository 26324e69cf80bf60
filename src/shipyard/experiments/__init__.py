"""Experiments: sets of training runs to compare, with a problem statement and success criteria."""

from shipyard.experiments._criteria import Criterion, evaluate_criteria, nest_metrics
from shipyard.experiments._service import ExperimentService, experiment_to_dict, run_summary

__all__ = [
    "Criterion",
    "ExperimentService",
    "evaluate_criteria",
    "experiment_to_dict",
    "nest_metrics",
    "run_summary",
]
