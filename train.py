"""Train one model with one method on one task: ``python train.py model=... method=... task=...``.

A thin Hydra entrypoint; the run is :mod:`lingo.pipeline`, its exit codes :mod:`lingo.entrypoint`.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lingo.config import check_overrides, register_configs
from lingo.errors import LingoError

CONF = Path(__file__).resolve().parent / "conf"
register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="config")
def main(cfg: DictConfig) -> float | None:
    from lingo.entrypoint import main_or_exit  # torch and transformers: not for a refused option

    return main_or_exit(cfg)


def cli() -> None:
    """``python train.py ...``: a key Lingo does not define is one line and exit code 2 before
    Hydra composes anything (tests call this in-process)."""
    try:
        check_overrides(sys.argv[1:], CONF)
    except LingoError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
