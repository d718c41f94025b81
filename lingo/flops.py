"""Analytical training FLOPs of one step (one forward + backward of a batch).

Only matrix multiplications count, 2·m·n·k each, as torch's ``FlopCounterMode`` counts them;
elementwise work (layer norm, softmax, GELU, dropout, the loss) and embedding lookups count
zero. Per transformer layer, with T tokens in the batch (batch x padded length) and hidden d:

    Q, K, V, O projections   4 · 2·T·d·d
    QK^T and A·V             2 · 2·b·s²·d       (the quadratic attention term)
    MLP                      2 · 2·T·d·ffn

The backward pass is counted matmul by matmul, as autograd runs it: a matmul ``y = x W^T``
costs one more forward's worth for the weight gradient when W is trained, and one more for
the input gradient when x needs a gradient. Full fine-tuning (FMFT) trains every weight, so
backward = 2 x forward. Under PEFT (LoRA, AdaLoRA) the base weights are frozen and nothing
before the first adapter needs a gradient: the embeddings and OPT-350M's ``project_in`` have
no backward, and the first adapted layer computes only the adapter's weight gradients there.

AdaLoRA (and ARS, which is AdaLoRA with another rank allocator) count the *initial* rank
``init_r``: PEFT prunes a singular value by zeroing it in Λ, the matrices P (r x in) and
Q (out x r) keep their shapes, so a pruned rank costs as much as a kept one for the whole
run. AdaLoRA also adds its orthogonality penalty ``P P^T`` and ``Q^T Q`` to every loss.

Heads, as Hugging Face executes them: OPT applies ``score`` to every position and then picks
the last non-pad token, so its head costs T·p·labels; BERT pools the CLS token with a dense
layer (frozen under PEFT: PEFT's SEQ_CLS task saves only ``classifier``/``score``); ESM's
classification head (dense + out_proj on CLS) is ``classifier`` and so always trained.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from transformers import OPTConfig

from lingo.config import PAPER_MATRICES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdapterSpec:
    """A PEFT adapter: rank ``rank`` on each of ``targets`` (the paper's matrix names) in
    every layer. For AdaLoRA/ARS ``rank`` is ``init_r`` (see the module docstring)."""

    kind: Literal["lora", "adalora"]
    rank: int
    targets: tuple[str, ...] = ("Wq", "Wk", "Wv", "Wf1", "Wf2")
    train_embeddings: bool = False  # PEFT trainable_token_indices: the embedding output has a grad

    def __post_init__(self) -> None:
        unknown = set(self.targets) - set(PAPER_MATRICES)
        if unknown or self.kind not in ("lora", "adalora") or self.rank < 1:
            raise ValueError(f"bad adapter {self}: unknown targets {sorted(unknown)}?")


@dataclass(frozen=True)
class Arch:
    """What the FLOPs depend on, read from a Hugging Face config."""

    family: str  # opt | bert | esm | dnabert2
    hidden: int
    layers: int
    ffn: int
    num_labels: int
    proj: int  # OPT's word_embed_proj_dim (project_in/out when it differs from hidden)

    @classmethod
    def from_config(cls, config: Any) -> "Arch":
        family = architecture(config)
        if family == "opt":
            ffn, proj = config.ffn_dim, config.word_embed_proj_dim
        else:
            ffn, proj = config.intermediate_size, config.hidden_size
        return cls(family, config.hidden_size, config.num_hidden_layers, ffn,
                   config.num_labels, proj)


def architecture(config: Any) -> str:
    """opt, bert, esm, or dnabert2 (DNABERT-2's remote code says ``model_type: bert``)."""
    kind = config.model_type
    if kind == "bert" and "bert_layers" in str(getattr(config, "auto_map", None) or ""):
        return "dnabert2"
    if kind not in ("opt", "bert", "esm"):
        raise ValueError(f"no FLOPs model for model_type={kind!r}; use opt, bert or esm")
    return kind


@dataclass(frozen=True)
class Flops:
    forward: int
    backward: int

    @property
    def total(self) -> int:
        return self.forward + self.backward


@dataclass
class _Counter:
    """Adds up matmuls forward and backward while tracking which activations need a grad."""

    fmft: bool
    forward: int = 0
    backward: int = 0
    by_part: dict[str, int] = field(default_factory=dict)

    def matmul(self, part: str, flops: int, a_grad: bool, b_grad: bool) -> bool:
        """One product of operands a and b: returns whether its output needs a grad."""
        self.forward += flops
        self.backward += flops * (a_grad + b_grad)
        self.by_part[part] = self.by_part.get(part, 0) + flops * (1 + a_grad + b_grad)
        return a_grad or b_grad

    def linear(self, part: str, tokens: int, d_in: int, d_out: int, x_grad: bool,
               trained: bool | None = None, rank: int = 0) -> bool:
        """``x W^T`` (bias adds are free), plus ``x A^T B^T`` of a rank-``rank`` adapter."""
        trained = self.fmft if trained is None else trained
        grad = self.matmul(part, 2 * tokens * d_in * d_out, x_grad, trained)
        if rank:
            self.matmul(part + ".adapter", 2 * tokens * d_in * rank, x_grad, True)
            self.matmul(part + ".adapter", 2 * tokens * rank * d_out, True, True)
            grad = True
        return grad


def _matrices(arch: Arch, adapter: AdapterSpec | None
              ) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """(d_in, d_out) and adapter rank (0: none) of each layer matrix. DNABERT-2 fuses Wq, Wk,
    Wv into one Wqkv (any of the three adapts it) and its GLU's Wf1 is d x 2·ffn."""
    d, ffn = arch.hidden, arch.ffn
    targets = set(adapter.targets) if adapter else set()
    rank = adapter.rank if adapter else 0
    if arch.family == "dnabert2":
        shapes = {"Wqkv": (d, 3 * d), "Wo": (d, d), "Wf1": (d, 2 * ffn), "Wf2": (ffn, d)}
        if targets & {"Wq", "Wk", "Wv"}:
            targets.add("Wqkv")
    else:
        shapes = {"Wq": (d, d), "Wk": (d, d), "Wv": (d, d), "Wo": (d, d), "Wf1": (d, ffn),
                  "Wf2": (ffn, d)}
    return shapes, {name: rank if name in targets else 0 for name in shapes}


def count_flops(config: Any, batch_size: int, seq_len: int, adapter: AdapterSpec | None = None,
                lengths: Sequence[int] | None = None) -> tuple[Flops, dict[str, int]]:
    """Forward and backward FLOPs of one step, and the training FLOPs of each part.

    ``seq_len`` is the padded length the model runs at. ``lengths`` (per-example non-pad token
    counts) only matter for DNABERT-2, which unpads tokens for its linear layers; the Hugging
    Face OPT/BERT/ESM models compute every padded position."""
    if lengths is not None and len(lengths) != batch_size:
        raise ValueError(f"{len(lengths)} lengths for a batch of {batch_size}")
    arch = Arch.from_config(config)
    d, b = arch.hidden, batch_size
    padded = b * seq_len
    tokens = sum(lengths) if lengths is not None and arch.family == "dnabert2" else padded
    square = b * seq_len * seq_len
    c = _Counter(fmft=adapter is None)
    shapes, ranks = _matrices(arch, adapter)

    grad = adapter is None or adapter.train_embeddings  # embedding lookups: no FLOPs
    if arch.family == "opt" and arch.proj != d:
        grad = c.linear("project_in", padded, arch.proj, d, grad)
    for _ in range(arch.layers):
        if arch.family == "dnabert2":  # one fused Wqkv
            q = k = v = c.linear("qkv", tokens, *shapes["Wqkv"], grad, rank=ranks["Wqkv"])
        else:
            q, k, v = (c.linear("qkv", tokens, *shapes[w], grad, rank=ranks[w])
                       for w in ("Wq", "Wk", "Wv"))
        scores = c.matmul("attention", 2 * square * d, q, k)
        mixed = c.matmul("attention", 2 * square * d, scores, v)
        grad = c.linear("out", tokens, *shapes["Wo"], mixed, rank=ranks["Wo"]) or grad
        hidden = c.linear("mlp", tokens, *shapes["Wf1"], grad, rank=ranks["Wf1"])
        grad = c.linear("mlp", tokens, *shapes["Wf2"], hidden, rank=ranks["Wf2"]) or grad

    if arch.family == "opt":
        if arch.proj != d:
            grad = c.linear("project_out", padded, d, arch.proj, grad)
        c.linear("head", padded, arch.proj, arch.num_labels, grad, trained=True)
    elif arch.family == "esm":  # EsmClassificationHead: all of it is PEFT's `classifier`
        pooled = c.linear("head", b, d, d, grad, trained=True)
        c.linear("head", b, d, arch.num_labels, pooled, trained=True)
    else:  # BERT pooler (frozen under PEFT) + classifier
        pooled = c.linear("head", b, d, d, grad)
        c.linear("head", b, d, arch.num_labels, pooled, trained=True)

    if adapter is not None and adapter.kind == "adalora":  # orthogonality: P P^T and Q^T Q
        for name, (d_in, d_out) in shapes.items():
            r = ranks[name]
            if r:
                for _ in range(arch.layers):
                    c.matmul("orth_reg", 2 * r * d_in * r, True, True)
                    c.matmul("orth_reg", 2 * r * d_out * r, True, True)
    return Flops(c.forward, c.backward), c.by_part


def forward_flops(config: Any, batch_size: int, seq_len: int,
                  adapter: AdapterSpec | None = None,
                  lengths: Sequence[int] | None = None) -> int:
    """Matmul FLOPs of one forward pass (with the adapter's extra products, if any)."""
    return count_flops(config, batch_size, seq_len, adapter, lengths)[0].forward


def train_flops_per_step(config: Any, batch_size: int, seq_len: int,
                         adapter: AdapterSpec | None = None,
                         lengths: Sequence[int] | None = None) -> int:
    """Matmul FLOPs of one training step: forward + backward of ``batch_size`` sequences of
    ``seq_len`` tokens (the optimizer update is elementwise: zero). With gradient
    accumulation, one optimizer step is this times the number of micro-batches."""
    return count_flops(config, batch_size, seq_len, adapter, lengths)[0].total


def attention_flops(seq_len: int, hidden_size: int, num_layers: int = 1,
                    batch_size: int = 1) -> int:
    """The quadratic term of the forward pass, QK^T and A·V: 2 · 2·b·s²·d per layer (any
    number of heads). Under FMFT its backward is twice this."""
    return 2 * 2 * batch_size * seq_len * seq_len * hidden_size * num_layers


def flops_adjusted_steps(steps: float, flops_per_step: float,
                         reference_flops_per_step: float) -> float:
    """Steps expressed in reference-model steps (the paper's: OPT-125M), for comparing runs
    of different models at equal compute: steps x FLOPs(model) / FLOPs(reference)."""
    return steps * flops_per_step / reference_flops_per_step


def adapter_from_model(net: Any) -> AdapterSpec | None:
    """The adapter of a built model: None for a plain (FMFT) model, else the kind, rank and
    adapted paper matrices read from the PEFT modules themselves (the executed shapes)."""
    from peft import PeftModel  # here: plotting code may import this module without peft

    from lingo.methods.targets import matches

    if not isinstance(net, PeftModel):
        return None
    name = net.active_adapter
    kind = {"LORA": "lora", "ADALORA": "adalora"}.get(str(net.peft_config[name].peft_type.value))
    if kind is None:
        raise ValueError(f"no FLOPs model for PEFT type {net.peft_config[name].peft_type}")
    arch = architecture(net.get_base_model().config)
    ranks, targets = set(), set()
    for module_name, module in net.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if lora_a is None or name not in lora_a:
            continue
        a = lora_a[name]
        ranks.add(int(a.shape[0] if kind == "adalora" else a.weight.shape[0]))
        targets.update(t for t in PAPER_MATRICES if matches(arch, t, module_name))
    if len(ranks) != 1:
        raise ValueError(f"expected one adapter rank for every matrix, found {sorted(ranks)}")
    embeddings = net.get_base_model().get_input_embeddings()
    train_embeddings = any(p.requires_grad for p in embeddings.parameters())
    ordered = tuple(t for t in PAPER_MATRICES if t in targets)
    return AdapterSpec(kind, ranks.pop(), ordered, train_embeddings=train_embeddings)


def model_train_flops(net: Any, batch_size: int, seq_len: int,
                      lengths: Sequence[int] | None = None) -> int:
    """``train_flops_per_step`` of a built model, PEFT-wrapped or not."""
    adapter = adapter_from_model(net)
    config = net.get_base_model().config if adapter is not None else net.config
    return train_flops_per_step(config, batch_size, seq_len, adapter, lengths)


def mean_padded_length(lengths: Sequence[int], batch_size: int, seed: int) -> float:
    """The expected padded length of a training batch: batches are padded to their longest
    sequence, so this is the mean of per-batch maxima over one seeded shuffle of the split."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    shuffled = np.asarray(lengths)[order]
    return float(np.mean([shuffled[i:i + batch_size].max()
                          for i in range(0, len(shuffled), batch_size)]))


@dataclass(frozen=True)
class StepFlops:
    """A run's training FLOPs per optimizer step, and the same step's cost on OPT-125M (with
    the same adapter, batch and tokens), the paper's reference for FLOPs-adjusted steps."""

    per_step: int
    reference_per_step: int

    def row(self, step: int) -> dict[str, float]:
        """The cumulative figures at a step, as ``history.jsonl`` carries them."""
        return {"train_flops": step * self.per_step,
                "flops_adjusted_steps": flops_adjusted_steps(step, self.per_step,
                                                             self.reference_per_step)}

    def summary(self, steps: int) -> dict[str, float]:
        """What ``metrics.json`` records: per step, and the whole run's totals."""
        return {"flops_per_step": self.per_step,
                "reference_flops_per_step": self.reference_per_step, **self.row(steps)}


def run_step_flops(net: Any, lengths: Sequence[int], batch_size: int, micro_batches: int,
                   seed: int) -> StepFlops | None:
    """``micro_batches``: gradient accumulation x processes. None for an architecture the
    accounting does not know (it says so in the log)."""
    seq_len = round(mean_padded_length(lengths, batch_size, seed))
    try:
        per_step = model_train_flops(net, batch_size, seq_len) * micro_batches
    except ValueError as err:
        log.info("no FLOPs accounting: %s", err)
        return None
    # transformers' OPTConfig defaults are OPT-125M's shape
    reference = train_flops_per_step(OPTConfig(), batch_size, seq_len, adapter_from_model(net))
    return StepFlops(per_step, reference * micro_batches)
