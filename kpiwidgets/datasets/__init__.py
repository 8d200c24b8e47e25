"""Canonical tables: the demo company, user datasets and their validation."""

from kpiwidgets.datasets.dataset import Dataset
from kpiwidgets.datasets.demo import load_demo
from kpiwidgets.datasets.presets import PRESETS
from kpiwidgets.datasets.read import read_dataset
from kpiwidgets.datasets.schema import TABLES

__all__ = ["PRESETS", "TABLES", "Dataset", "load_demo", "read_dataset"]
