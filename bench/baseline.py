"""The baseline: a minimal re-creation of how the paper's code trained (github
zhanglab-aim/LINGO, see /work/shared/paper/PAPER.md "The paper's code, as it ran").

- HF Trainer in fp32 on the CPU, default data loader and collator;
- the whole split tokenized up front by the model's HF tokenizer with ``padding="longest"``
  (every sequence padded to the split's longest);
- PEFT LoRA, or PEFT AdaLoRA with PEFT's own ``RankAllocator``, its ``update_and_allocate``
  called inside an overridden ``training_step`` (after the backward, before the optimizer
  step). The paper's ARS lived in a vendored, modified PEFT 0.5.0 that cannot be installed, so
  the ARS configurations are compared with this same AdaLoRA recipe.

Only what the bench needs to put the two sides on equal terms comes from Lingo's config: the
model shape, the rows of each split, the adapter hyperparameters and the step count.
"""

from pathlib import Path

import torch
from datasets import Dataset
from peft import AdaLoraConfig, LoraConfig, TaskType, get_peft_model
from transformers import AutoTokenizer, OPTConfig, OPTForSequenceClassification, TrainingArguments

from bench.common import MeteredTrainer


class PaperTrainer(MeteredTrainer):
    """The paper code's hook: AdaLoRA's allocation inside ``training_step``."""

    allocate: bool = False

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.allocate:
            model.base_model.update_and_allocate(self.state.global_step)
        return loss


def tokenize_whole_split(tokenizer_dir: Path, sequences: list[str], labels: list[int],
                         max_length: int) -> Dataset:
    """The whole split at once, padded to its longest sequence."""
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    encoded = tokenizer(sequences, padding="longest", truncation=True, max_length=max_length)
    return Dataset.from_dict({"input_ids": encoded["input_ids"],
                              "attention_mask": encoded["attention_mask"], "labels": labels})


def build_model(shape: dict, num_labels: int, pad_token_id: int, seed: int):
    shape = {k: v for k, v in shape.items() if k != "model_type"}
    torch.manual_seed(seed)
    return OPTForSequenceClassification(
        OPTConfig(**shape, num_labels=num_labels, pad_token_id=pad_token_id))


def apply_peft(net, method: str, targets: str, r: int, lora_alpha: float, lora_dropout: float,
               adalora: dict | None):
    """``method``: lora, or adalora/ars (both PEFT AdaLoRA with its own allocator)."""
    common = dict(task_type=TaskType.SEQ_CLS, target_modules=targets, lora_alpha=lora_alpha,
                  lora_dropout=lora_dropout)
    if method == "lora":
        return get_peft_model(net, LoraConfig(r=r, **common))
    if method == "fmft":
        return net
    return get_peft_model(net, AdaLoraConfig(**common, **adalora))


def arguments(out: Path, batch_size: int, lr: float, warmup_ratio: float, weight_decay: float,
              max_steps: int, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=16,  # the paper's (Methods 4.4)
        learning_rate=lr,
        lr_scheduler_type="linear",
        warmup_steps=warmup_ratio,
        weight_decay=weight_decay,
        max_steps=max_steps,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=10,
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=True,
    )
