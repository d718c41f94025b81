"""Right padding with the tokenizer's real pad id and a true attention mask (extra columns such
as ``dna_tokens`` are left out of the batch). Labels: class ids (long), or float32 0/1
vectors for a multi-label task."""

from dataclasses import dataclass

import torch


@dataclass
class PadCollator:
    pad_token_id: int
    attend_to_padding: bool = False  # the paper code's one-hot attended to its padding

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), length), self.pad_token_id, dtype=torch.long)
        mask = torch.full((len(features), length), int(self.attend_to_padding), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            ids[row, :n] = torch.as_tensor(feature["input_ids"])
            mask[row, :n] = 1
        labels = torch.as_tensor([f["labels"] for f in features])
        if labels.is_floating_point():  # multi-label 0/1 vectors: BCE wants the logits' dtype
            labels = labels.float()
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
