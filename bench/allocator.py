"""The allocation hook alone: PEFT AdaLoRA's ``RankAllocator`` vs ARS, on the same model and
gradients, calls interleaved, an allocation event (importance, budget, masks) at every call."""

import statistics
import time

import torch
from peft.tuners.adalora import RankAllocator

from bench.common import compose_cfg
from lingo.methods import RunContext, get_method
from lingo.methods.adalora.allocator import ARSRankAllocator
from lingo.methods.adalora.schedule import plan_schedule
from lingo.models import build_model


def allocator_seconds(model: str, task: str, reps: int, seed: int = 0) -> dict:
    cfg = compose_cfg(f"model={model}", "model.init=random", "method=ars", f"task={task}",
                      "method.delta_t=1", "method.tinit=0", "logger=none")
    torch.manual_seed(seed)
    net = build_model(cfg.model, 2, 50265, 1, seed)
    total = 10 * reps + 10
    net = get_method(cfg.method.name)(cfg.method, RunContext(cfg.model.arch, seed)).wrap(net)
    plan_schedule(net, cfg.method, total, 0)
    ids = torch.randint(3, 50000, (2, 32))
    labels = torch.tensor([0, 1])
    net(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss.backward()
    tuner = net.base_model
    name = tuner.trainable_adapter_name
    config = tuner.peft_config[name]
    allocators = {
        "adalora": RankAllocator(tuner.model, config, name),
        "ars": ARSRankAllocator(tuner.model, config, name, p_drop=cfg.method.p_drop,
                                p_revive=cfg.method.p_revive, seed=seed),
    }
    times = {k: [] for k in allocators}
    step = 1
    for _ in range(reps + 1):  # the first round warms up
        for key, allocator in allocators.items():
            tuner.rankallocator = allocator
            config.rank_pattern = None
            started = time.perf_counter()
            tuner.update_and_allocate(step)
            times[key].append(time.perf_counter() - started)
            step += 1
    matrices = sum(1 for n, _ in net.named_parameters() if ".lora_E." in n)
    median = {k: statistics.median(v[1:]) for k, v in times.items()}
    return {"adalora_ms": round(1000 * median["adalora"], 3),
            "ars_ms": round(1000 * median["ars"], 3), "matrices": matrices, "reps": reps}
