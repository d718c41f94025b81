"""GPU lines (only with CUDA): step time, tokens/s and MFU of FMFT and ARS in bf16 autocast,
OPT-125M and OPT-350M shapes (random weights), batch 8 and >= 16k tokens per step.

One step is what the model and the method cost: forward and backward under autocast, ARS's
allocation hook, and the optimizer (fused AdamW on CUDA, the Trainer's default), timed
between device synchronisations. ``device`` is a parameter so that the same code runs on a CPU
with a tiny model in the tests."""

import statistics
import time

import torch

from bench.common import compose_cfg
from lingo.flops import model_train_flops
from lingo.methods import RunContext, get_method
from lingo.methods.adalora.schedule import plan_schedule
from lingo.models import build_model

# dense bf16 peak FLOP/s by device name (vendor data sheets, without sparsity)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def peak_flops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def gpu_lines(device: torch.device | None = None, models: tuple[str, ...] = ("opt125m", "opt350m"),
              steps: int = 10, warmup: int = 3, seq_len: int = 256,
              tokens_per_step: int = 16384) -> list[dict]:
    device = device or torch.device("cuda")
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else device.type
    peak = peak_flops(name) if cuda else None
    rows = []
    for model in models:
        for method in ("fmft", "ars"):
            for batch in (8, max(8, -(-tokens_per_step // seq_len))):
                cfg = compose_cfg(f"model={model}", "model.init=random", f"method={method}",
                                  "task=prom_tata", "method.delta_t=1", "method.tinit=0",
                                  "logger=none")
                net = build_model(cfg.model, 2, 50265, 1, 0)
                unit = get_method(method)(cfg.method, RunContext(cfg.model.arch, 0))
                net = unit.wrap(net).to(device)
                if method == "ars":
                    plan_schedule(net, cfg.method, 1000, 0)
                params = [p for p in net.parameters() if p.requires_grad]
                optimizer = torch.optim.AdamW(params, lr=1e-5, fused=cuda)
                ids = torch.randint(3, 50000, (batch, seq_len), device=device)
                labels = torch.randint(0, 2, (batch,), device=device)
                times = []
                for i in range(warmup + steps):
                    if cuda:
                        torch.cuda.synchronize(device)
                    started = time.perf_counter()
                    with torch.autocast(device.type, dtype=torch.bfloat16):
                        loss = net(input_ids=ids, attention_mask=torch.ones_like(ids),
                                   labels=labels).loss
                    loss.backward()
                    if method == "ars":
                        net.base_model.update_and_allocate(i)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if cuda:
                        torch.cuda.synchronize(device)
                    times.append(time.perf_counter() - started)
                step = statistics.median(times[warmup:])
                flops = model_train_flops(net, batch, seq_len)
                rows.append({
                    "model": model, "method": method, "batch": batch, "seq_len": seq_len,
                    "tokens_per_step": batch * seq_len, "step_s": round(step, 4),
                    "tokens_per_s": round(batch * seq_len / step, 1), "train_flops": flops,
                    "mfu": round(flops / step / peak, 4) if peak else None, "gpu": name,
                })
                del net, optimizer
                if cuda:
                    torch.cuda.empty_cache()
    return rows
