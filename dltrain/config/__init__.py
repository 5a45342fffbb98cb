"""Experiment configuration: Pydantic schema and YAML loading. No TensorFlow here."""

from dltrain.config.load import dump_config, load_config
from dltrain.config.schema import ExperimentConfig

__all__ = ["ExperimentConfig", "dump_config", "load_config"]
