"""What an adaptive method kept: the paper's parameter count at budget, ranks per layer and
matrix, and a heat map (layers x matrices)."""

import re
from pathlib import Path

from matplotlib.figure import Figure
from peft import PeftModel

from lingo.config import PAPER_MATRICES
from lingo.methods.adalora.allocator import matrix_name
from lingo.methods.targets import matches

_LAYER = re.compile(r"\.(\d+)\.")


def full_pattern(net: PeftModel) -> dict[str, list[bool]]:
    """Every triplet kept: the pattern before the first allocation event."""
    return {
        name: [True] * p.shape[0]
        for name, p in net.base_model.model.named_parameters()
        if ".lora_E." in name
    }


def nonzero_pattern(net: PeftModel) -> dict[str, list[bool]]:
    """The triplets a model computes with: λ != 0. Between the allocation events of the budget
    phase, AdaLoRA's pruned values are trained like the others (PEFT zeroes them again only at
    the next event), so a checkpoint selected there uses more triplets than its pattern says;
    from the final event on, PEFT masks after every step and the two agree."""
    return {
        name: (p.detach().flatten() != 0).tolist()
        for name, p in net.base_model.model.named_parameters()
        if ".lora_E." in name
    }


def rank_summary(
    net: PeftModel, pattern: dict[str, list[bool]], arch: str, targets: list[str]
) -> tuple[dict, dict[tuple[int, str], int]]:
    """(metrics, grid). ``params_at_budget`` counts the kept triplets (a P column, a Q row and
    λ each) plus the head: the paper's count for adaptive methods. ``grid`` maps
    (layer, paper matrix name) to the kept rank."""
    params = dict(net.base_model.model.named_parameters())
    at_budget, grid = 0, {}
    for name, mask in pattern.items():
        kept = int(sum(mask))
        n_in = params[name.replace("lora_E", "lora_A")].shape[1]
        n_out = params[name.replace("lora_E", "lora_B")].shape[0]
        at_budget += kept * (n_in + n_out + 1)
        module = matrix_name(name)
        paper = next((t for t in targets if matches(arch, t, module)), module)
        key = (int(_LAYER.search(module).group(1)), paper)
        grid[key] = grid.get(key, 0) + kept  # Llama's Wf1 is two modules: gate_proj, up_proj
    head = sum(
        p.numel() for n, p in net.named_parameters() if p.requires_grad and "lora_" not in n
    )
    metrics = {"params_at_budget": at_budget + head, "final_rank_total": sum(grid.values())}
    for (layer, _), kept in sorted(grid.items()):  # flat keys: ranks_per_layer/<layer>
        key = f"ranks_per_layer/{layer}"
        metrics[key] = metrics.get(key, 0) + kept
    return metrics, grid


def plot_rank_pattern(grid: dict[tuple[int, str], int], path: Path, title: str) -> None:
    layers = sorted({layer for layer, _ in grid})
    order = {name: i for i, name in enumerate(PAPER_MATRICES)}
    names = sorted({name for _, name in grid}, key=lambda n: (order.get(n, len(order)), n))
    values = [[grid.get((layer, name), 0) for name in names] for layer in layers]
    fig = Figure(figsize=(1.5 + 0.8 * len(names), 1.2 + 0.35 * len(layers)))
    ax = fig.subplots()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(layers)), [str(layer) for layer in layers])
    ax.set_xlabel("matrix")
    ax.set_ylabel("layer")
    ax.set_title(title)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            light = value > 0.6 * max(max(r) for r in values)
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                    color="black" if light else "white")
    fig.colorbar(image, ax=ax, label="kept rank")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
