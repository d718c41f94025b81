"""Fine-tuning methods, one unit each (registry.py), on the paper's target matrices
(targets.py). Every module of this package is imported here, so a new unit registers itself."""

import importlib
import pkgutil

from lingo.methods.registry import (
    METHODS,
    Method,
    RunContext,
    get_method,
    labels,
    ordered,
    register,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["METHODS", "Method", "RunContext", "get_method", "labels", "ordered", "register"]
