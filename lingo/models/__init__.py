"""Backbone + classification head from a model config."""

from lingo.models.build import build_model, count_parameters, peft_deprecation_silenced

__all__ = ["build_model", "count_parameters", "peft_deprecation_silenced"]
