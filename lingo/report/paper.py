"""The paper's published numbers (``lingo/report/paper/*.csv``), keyed by our names."""

from functools import cache
from pathlib import Path

import pandas as pd

from lingo.methods import labels

PAPER_DIR = Path(__file__).parent / "paper"

MODELS = {"dnabert2": "DNABERT-2", "nt500m": "NT-500M", "opt125m": "OPT-125M",
          "opt350m": "OPT-350M"}
METHODS = labels()  # name -> the paper's label, in its order (lingo.methods' registry)
BASELINES = {"kmer_lr": "Baseline: 6-mer LR", "cnn": "Baseline: CNN"}
TOKENIZERS = {"native": "own", "bbpe": "BBPE", "onehot": "One-hot", "kmer": "k-mer",
              "char": "char"}
YEAST_TASKS = ("h3", "h3k4me1", "h3k4me2", "h3k4me3", "h3k9ac", "h3k14ac", "h3k36me3",
               "h3k79me3", "h4", "h4ac")
PROMOTER_TASKS = ("prom_all", "prom_notata", "prom_tata")
TASK_NAMES = {"histone_human": "Histone (Human)",
              **{t: t for t in PROMOTER_TASKS},
              **{t: t.upper().replace("ME", "me").replace("AC", "ac") for t in YEAST_TASKS}}
PAPER_FILES = {"table_s2": "table_s2_mcc_histone_yeast.csv",
               "table_s3": "table_s3_auc_promoter_human.csv"}
# Fig 4: one-sided paired t-test of Lingo > ARS over the 10 yeast tasks, as printed.
PAPER_TTEST_P = {"opt125m": 0.013, "opt350m": 0.005}


def model_label(model: str) -> str:
    return MODELS.get(model) or BASELINES.get(model) or model


def _ours(names: dict[str, str]) -> dict[str, str]:
    return {printed: ours for ours, printed in names.items()}


@cache
def paper_cells(table: str) -> pd.DataFrame:
    """Long form: model, row (method or tokenizer), task, value, params (printed text)."""
    if table == "histone_human":
        return _paper_histone_human()
    if table == "table1":
        wide = pd.read_csv(PAPER_DIR / "table1_auc_tokenizer.csv")
        wide["row"] = wide.pop("method").str.removeprefix("Lingo + ").map(_ours(TOKENIZERS))
        wide["trainable_params"] = None
    else:
        wide = pd.read_csv(PAPER_DIR / PAPER_FILES[table])
        wide["row"] = wide.pop("method").map(_ours(METHODS))
    wide["model"] = wide["model"].map(_ours(MODELS))
    wide = wide.rename(columns={"trainable_params": "paper_params"})
    tasks = [c for c in wide.columns if c not in ("model", "row", "paper_params")]
    cells = wide.melt(id_vars=["model", "row", "paper_params"], value_vars=tasks,
                      var_name="task", value_name="paper")
    cells["task"] = cells["task"].map(_ours(TASK_NAMES))
    return cells


def _paper_histone_human() -> pd.DataFrame:
    """Macro AUC on the 104 DeepSEA labels (the compute-efficiency row is left out)."""
    rows = pd.read_csv(PAPER_DIR / "histone_human_results.csv")
    rows = rows[rows["metric"] == "macro_auc"]
    return pd.DataFrame({"model": rows["model"].map(_ours(MODELS)),
                         "row": rows["method"].map(_ours(METHODS)), "paper_params": None,
                         "task": "histone_human", "paper": rows["value"]})
