"""The paper's matrix names (Wq Wk Wv Wo Wf1 Wf2) as exact module patterns per architecture.

A suffix match is not enough: on BERT/ESM ``output.dense`` is both the attention output (Wo,
``attention.output.dense``) and the layer's second feed-forward matrix (Wf2, ``output.dense``
directly under the layer). Patterns are anchored at the layer, so each name hits one matrix.
DNABERT-2 fuses Wq, Wk and Wv into one ``Wqkv`` matrix: any of the three selects it.

Llama (SmolLM2; also Mistral and Qwen2, same names): Wq Wk Wv Wo are ``q_proj k_proj v_proj
o_proj``; its gated MLP computes down(silu(gate(x)) * up(x)), so Wf1, the matrix into the
feed-forward width, is both ``gate_proj`` and ``up_proj``, and Wf2 is ``down_proj``.
GPT-2 fuses Wq, Wk and Wv into ``attn.c_attn`` (like DNABERT-2: any of the three selects it);
Wo is ``attn.c_proj``, Wf1 ``mlp.c_fc``, Wf2 ``mlp.c_proj`` (transformers' ``Conv1D`` modules,
which PEFT adapts with ``fan_in_fan_out``).
"""

import re

from lingo.config import PAPER_MATRICES
from lingo.errors import LingoError

LAYER = {
    "opt": r"decoder\.layers\.\d+\.",
    "bert": r"encoder\.layer\.\d+\.",
    "esm": r"encoder\.layer\.\d+\.",
    "dnabert2": r"encoder\.layer\.\d+\.",
    "llama": r"layers\.\d+\.",
    "gpt2": r"h\.\d+\.",
}
_BERT = {
    "Wq": r"attention\.self\.query",
    "Wk": r"attention\.self\.key",
    "Wv": r"attention\.self\.value",
    "Wo": r"attention\.output\.dense",
    "Wf1": r"intermediate\.dense",
    "Wf2": r"output\.dense",
}
MATRICES = {
    "opt": {
        "Wq": r"self_attn\.q_proj",
        "Wk": r"self_attn\.k_proj",
        "Wv": r"self_attn\.v_proj",
        "Wo": r"self_attn\.out_proj",
        "Wf1": r"fc1",
        "Wf2": r"fc2",
    },
    "bert": _BERT,
    "esm": _BERT,
    "dnabert2": {
        "Wq": r"attention\.self\.Wqkv",
        "Wk": r"attention\.self\.Wqkv",
        "Wv": r"attention\.self\.Wqkv",
        "Wo": r"attention\.output\.dense",
        "Wf1": r"mlp\.gated_layers",
        "Wf2": r"mlp\.wo",
    },
    "llama": {
        "Wq": r"self_attn\.q_proj",
        "Wk": r"self_attn\.k_proj",
        "Wv": r"self_attn\.v_proj",
        "Wo": r"self_attn\.o_proj",
        "Wf1": r"mlp\.(?:gate_proj|up_proj)",
        "Wf2": r"mlp\.down_proj",
    },
    "gpt2": {
        "Wq": r"attn\.c_attn",
        "Wk": r"attn\.c_attn",
        "Wv": r"attn\.c_attn",
        "Wo": r"attn\.c_proj",
        "Wf1": r"mlp\.c_fc",
        "Wf2": r"mlp\.c_proj",
    },
}


def target_regex(arch: str, targets: list[str]) -> str:
    """A regex for PEFT's ``target_modules`` (PEFT full-matches it against module names)."""
    unknown = [t for t in targets if t not in PAPER_MATRICES]
    if unknown or not targets:
        raise LingoError(
            f"method.targets={list(targets)} holds unknown names {unknown}; "
            f"use the paper's names {list(PAPER_MATRICES)}"
        )
    alternatives = sorted({MATRICES[arch][t] for t in targets})
    return rf"(?:.*\.)?{LAYER[arch]}(?:{'|'.join(alternatives)})"


def matches(arch: str, target: str, module_name: str) -> bool:
    return re.fullmatch(target_regex(arch, [target]), module_name) is not None
