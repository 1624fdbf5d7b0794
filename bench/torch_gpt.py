"""PyTorch reference of gptsweep's model, for benchmarks only (never run by the tests).

The lecture's final gpt.py with all heads in one batched matmul (the same arithmetic as
gptsweep's burn model): token + position embeddings, pre-LayerNorm blocks of causal
multi-head self-attention and a 4x ReLU MLP, final LayerNorm, lm_head, N(0, 0.02) init,
AdamW with PyTorch's defaults. Prints one JSON line with training tokens/s, timed after
--warmup steps (compilation, cuBLAS and allocator warm-up excluded, as gptsweep's figure
is read from a window after its first evaluation). --compile runs torch.compile; --bf16
runs the forward pass under bf16 autocast (nanoGPT's settings on a GPU); --tf32 lets fp32
matrix products use TF32 tensor cores (PyTorch's default is off).
"""
import argparse, json, math, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, c, h, block, dropout):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)
        self.register_buffer("tril", torch.tril(torch.ones(block, block)))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (m.view(b, t, self.h, c // self.h).transpose(1, 2) for m in (q, k, v))
        w = q @ k.transpose(-2, -1) * (c // self.h) ** -0.5
        w = w.masked_fill(self.tril[:t, :t] == 0, float("-inf"))
        w = self.attn_drop(F.softmax(w, dim=-1))
        y = (w @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, c, h, block, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = Attention(c, h, block, dropout)
        self.ffwd = nn.Sequential(nn.Linear(c, 4 * c), nn.ReLU(), nn.Linear(4 * c, c), nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block, c, h, layers, dropout):
        super().__init__()
        self.tok = nn.Embedding(vocab, c)
        self.pos = nn.Embedding(block, c)
        self.blocks = nn.Sequential(*[Block(c, h, block, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.head = nn.Linear(c, vocab)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, targets):
        b, t = idx.shape
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        logits = self.head(self.ln_f(self.blocks(x)))
        return F.cross_entropy(logits.view(b * t, -1), targets.view(b * t))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--device", default="cpu")
    for name, default in [("batch_size", 64), ("block_size", 256), ("n_embd", 384), ("n_head", 6), ("n_layer", 6), ("steps", 5)]:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--eval-interval", type=int, default=0, help="0: no evaluation (throughput only)")
    p.add_argument("--eval-iters", type=int, default=200)
    p.add_argument("--profile", type=int, default=0,
                   help="after the timed steps, profile this many more with torch.profiler: "
                        "GPU kernel time per step and the top kernels, to stderr")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.manual_seed(1337)
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    dev = torch.device(a.device)
    model = GPT(len(chars), a.block_size, a.n_embd, a.n_head, a.n_layer, a.dropout).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
    params = sum(p.numel() for p in model.parameters())
    step_model = torch.compile(model) if a.compile else model
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.bf16)

    def batch(split=None):
        split = train if split is None else split
        ix = torch.randint(len(split) - a.block_size, (a.batch_size,))
        x = torch.stack([split[i : i + a.block_size] for i in ix]).to(dev)
        y = torch.stack([split[i + 1 : i + a.block_size + 1] for i in ix]).to(dev)
        return x, y

    @torch.no_grad()
    def estimate_loss():  # the lecture's: mean over eval_iters batches per split, eval mode
        model.eval()
        out = {}
        for name, split in (("train", train), ("val", val)):
            losses = torch.zeros(a.eval_iters)
            for k in range(a.eval_iters):
                x, y = batch(split)
                with autocast:
                    losses[k] = step_model(x, y).item()
            out[name] = losses.mean().item()
        model.train()
        return out

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step():
        x, y = batch()
        with autocast:
            loss = step_model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    start = time.perf_counter()
    for _ in range(a.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    loss, evals, eval_secs = None, [], 0.0
    for i in range(1, a.steps + 1):
        loss = step()
        if a.eval_interval and (i % a.eval_interval == 0 or i == a.steps):
            sync()
            e0 = time.perf_counter()
            evals.append({"step": i, **estimate_loss(), "elapsed": e0 - t0})
            eval_secs += time.perf_counter() - e0
            print(json.dumps(evals[-1]), file=sys.stderr, flush=True)
    sync()
    wall = time.perf_counter() - t0
    secs = wall - eval_secs
    tokens = a.steps * a.batch_size * a.block_size
    if a.profile:
        try:
            profile(a.profile, step, sync, dev)
        except Exception as e:  # the throughput above stands without the profile
            print(f"profile failed: {e!r}", file=sys.stderr)
    mode = ("compile" if a.compile else "eager") + ("+bf16" if a.bf16 else " fp32") + ("+tf32" if a.tf32 else "")
    print(json.dumps({"impl": "pytorch " + torch.__version__, "mode": mode, "device": a.device, "params": params,
                      "steps": a.steps, "warmup": a.warmup, "secs": secs, "wall_secs": wall, "warmup_secs": t0 - start, "evals": evals,
                      "tokens_per_sec": tokens / secs, "final_loss": float(loss.detach())}))


def profile(steps, step, sync, dev):
    """Kernel time per step beside wall time per step (how busy the GPU is), top kernels."""
    from torch.profiler import ProfilerActivity, profile as prof
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    sync()
    with prof(activities=acts) as p:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        wall = time.perf_counter() - t0
    kernels = [e for e in p.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy = sum(e.device_time for e in kernels) / 1e6  # us -> s
    print(f"profile: {steps} steps, wall {wall / steps * 1e3:.2f} ms/step, GPU kernels {len(kernels) / steps:.0f}/step, "
          f"{busy / steps * 1e3:.2f} ms/step busy ({100 * busy / wall:.0f}%)", file=sys.stderr)
    print(p.key_averages().table(sort_by="cuda_time_total" if dev.type == "cuda" else "cpu_time_total", row_limit=20),
          file=sys.stderr)


if __name__ == "__main__":
    main()
