"""Integrated gradients (Captum) of one label's log-odds.

CNN runs: on the one-hot input, from the all-zero baseline (the CNN's own N). Without Captum's
multiplication by the input, the path-averaged gradient of every base at every position is kept:
at the base present it is that base's attribution (the input differs from the baseline by 1
there), at the others its hypothetical contribution, which motif discovery reads.

Language-model runs: on the input embeddings, from a baseline that replaces every DNA token by
the pad token's embedding (special tokens and the prompt stay as they are). A token's
attribution (summed over the embedding) is spread evenly over the bases it covers
(``DNATokenizer.base_spans``: a 6-mer's over its 6 bases, overlapping k-mers adding up), so a
base's value is its share of every token that reads it. Computed in fp32.
"""

import sys
from collections.abc import Callable

import numpy as np
import torch

from lingo.data.bases import one_hot
from lingo.errors import LingoError
from lingo.explain.scorer import Scorer, label_log_odds
from lingo.explain.scores import BaseScores
from lingo.predict.inputs import Record


def attributions(
    scorer: Scorer, records: list[Record], label: int, steps: int = 50,
    max_sequences: int | None = 100, progress: bool = True,
) -> BaseScores:
    """Integrated gradients of ``label``'s log-odds for each record, per base."""
    from tqdm.auto import tqdm

    run = scorer.run
    if run.baseline == "kmer_lr":
        raise LingoError(f"{run.path}: a k-mer LR run has no gradient through its k-mer counts; "
                         "use `lingo-explain mutagenesis` for it")
    label = scorer.label(label)
    scorer.check_records(records, max_sequences)
    length = max(len(r.sequence) for r in records)
    values = np.full((len(records), length, 4), np.nan, dtype=np.float32)
    one = _cnn_attribution if run.baseline == "cnn" else _token_attribution
    with tqdm(total=len(records), desc="attributions", unit="sequence",
              disable=not progress or None, file=sys.stderr) as bar:
        for i, record in enumerate(records):
            values[i, : len(record.sequence)] = one(scorer, record, label, steps)
            bar.update(1)
    return BaseScores([r.id for r in records], [r.sequence for r in records], values,
                      "attributions", label, str(run.path))


def _cnn_attribution(scorer: Scorer, record: Record, label: int, steps: int) -> np.ndarray:
    from captum.attr import IntegratedGradients

    from lingo.baselines.cnn import one_hot as channels_first

    net = scorer.net
    x = channels_first([record.sequence], net.input_length).to(scorer.device)
    forward = _forward(lambda inputs: net(inputs), label, net.multi_label)
    ig = IntegratedGradients(forward, multiply_by_inputs=False)
    grads = ig.attribute(x, baselines=torch.zeros_like(x), n_steps=steps)
    return grads[0, :, : len(record.sequence)].T.detach().cpu().numpy()


def _token_attribution(scorer: Scorer, record: Record, label: int, steps: int) -> np.ndarray:
    from captum.attr import LayerIntegratedGradients

    run, net = scorer.run, scorer.net
    tokenizer = run.tokenizer
    if scorer.adapter is not None:
        net.set_adapter(scorer.adapter)
    prefix, dna = tokenizer.pieces(record.sequence)
    ids, truncated = tokenizer.encode([record.sequence])
    start = len(tokenizer.head) + len(prefix)
    if truncated or ids[0][start : start + len(dna)] != dna:
        raise LingoError(f"record {record.id!r}: {run.path}'s tokenizer does not keep its DNA "
                         "tokens whole in the input (truncated or rewritten): cut the sequence")
    input_ids = torch.tensor(ids, device=scorer.device)
    baseline = input_ids.clone()
    baseline[0, start : start + len(dna)] = tokenizer.pad_token_id
    mask = torch.ones_like(input_ids)
    forward = _forward(lambda inputs: net(input_ids=inputs, attention_mask=mask).logits, label,
                       run.multi_label)
    lig = LayerIntegratedGradients(forward, net.get_input_embeddings())
    found = lig.attribute(input_ids, baselines=baseline, n_steps=steps, internal_batch_size=steps)
    per_token = found.sum(dim=-1)[0, start : start + len(dna)].detach().float().cpu().numpy()
    per_base = np.zeros(len(record.sequence), dtype=np.float64)
    for value, (s, e) in zip(per_token, tokenizer.base_spans(record.sequence), strict=True):
        per_base[s:e] += value / (e - s)
    return one_hot([record.sequence], len(record.sequence))[0] * per_base[:, None]


def _forward(model: Callable[[torch.Tensor], torch.Tensor], label: int,
             multi_label: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda inputs: label_log_odds(model(inputs).float(), label, multi_label)
