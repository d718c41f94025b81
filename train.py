"""Train one model with one method on one task: ``python train.py model=... method=... task=...``.

A thin Hydra entrypoint; the logic lives in :mod:`lingo.pipeline`.
"""

import hydra
from omegaconf import DictConfig

from lingo.config import register_configs
from lingo.pipeline import main_or_exit

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return main_or_exit(cfg)


if __name__ == "__main__":
    main()
