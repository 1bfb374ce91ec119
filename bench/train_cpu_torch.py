#!/usr/bin/python3
"""
PyTorch-eager peer of cuda-ext/tests/bench_train.c: the same small MosaicBERT (or BERT) with an MLM
head, the same batch (same LCG), run the way an eager PyTorch user runs it: padded to [B, seq] with an
attention mask (+ ALiBi bias), MLM head on the masked tokens only (as the MosaicBERT reference does),
torch.optim.AdamW and clip_grad_norm_, torch.set_num_threads(threads). precision 0: fp32; 1: forward
under torch.autocast("cpu", dtype=torch.bfloat16) (what a PyTorch user turns on for bf16 on CPU:
bf16 matmuls, fp32 master weights and optimizer).
Step = zero_grad + forward + backward + clip(1.0) + AdamW. Prints one JSON line.
    train_cpu_torch.py layers hidden heads intermediate seq batch steps threads variant [precision vocab]
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

args = [4, 256, 4, 1024, 128, 16, 10, 0, 0, 0, 30528]
for i, a in enumerate(sys.argv[1:12]):
    args[i] = int(a)
layers, H, NH, I, seq, B, steps, threads, variant, precision, V = args
if threads > 0:
    torch.set_num_threads(threads)

state = 42


def lcg():
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return state >> 33


lens = [seq // 4 + lcg() % (seq - seq // 4 + 1) for _ in range(B)]
T = sum(lens)
ids, labels = [], []
for _ in range(T):
    ids.append(5 + lcg() % (V - 5))
    masked = lcg() % 1000 < 300
    labels.append(lcg() % V if masked else -100)
input_ids = torch.zeros(B, seq, dtype=torch.long)
mlm = torch.full((B, seq), -100, dtype=torch.long)
mask = torch.zeros(B, seq, dtype=torch.bool)
o = 0
for s, L in enumerate(lens):
    input_ids[s, :L] = torch.tensor(ids[o:o + L])
    mlm[s, :L] = torch.tensor(labels[o:o + L])
    mask[s, :L] = True
    o += L


def slopes(n):
    p = 2 ** int(math.floor(math.log2(n)))
    s = [2 ** (-8 * (k + 1) / p) for k in range(p)]
    return torch.tensor(s + [2 ** (-8 * (2 * i + 1) / (2 * p)) for i in range(n - p)])


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.Wqkv = torch.nn.Linear(H, 3 * H)
        self.dense = torch.nn.Linear(H, H)
        self.ln1 = torch.nn.LayerNorm(H, eps=1e-12)
        if variant == 0:
            self.gated = torch.nn.Linear(H, 2 * I, bias=False)
        else:
            self.inter = torch.nn.Linear(H, I)
        self.wo = torch.nn.Linear(I, H)
        self.ln2 = torch.nn.LayerNorm(H, eps=1e-12)
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, x, bias):
        b, L, _ = x.shape
        q, k, v = self.Wqkv(x).view(b, L, 3, NH, H // NH).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(H // NH) + bias
        att = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, L, H)
        h = self.ln1(x + self.drop(self.dense(att)))
        if variant == 0:
            g = self.gated(h)
            return self.ln2(h + self.wo(self.drop(F.gelu(g[..., :I]) * g[..., I:])))
        return self.ln2(h + self.drop(self.wo(F.gelu(self.inter(h)))))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, H)
        self.wtt = torch.nn.Embedding(2, H)
        if variant == 1:
            self.wpe = torch.nn.Embedding(512, H)
        self.ln = torch.nn.LayerNorm(H, eps=1e-12)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(layers)])
        self.t_dense = torch.nn.Linear(H, H)
        self.t_ln = torch.nn.LayerNorm(H, eps=1e-12)
        self.dec_bias = torch.nn.Parameter(torch.zeros(V))
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, ids, mask, labels):
        b, L = ids.shape
        x = self.wte(ids) + self.wtt(torch.zeros_like(ids))
        if variant == 1:
            x = x + self.wpe(torch.arange(L))[None]
        x = self.drop(self.ln(x))
        bias = torch.zeros(b, 1, 1, L).masked_fill(~mask[:, None, None, :], -10000.0)
        if variant == 0:
            pos = torch.arange(L)
            bias = bias - slopes(NH)[None, :, None, None] * (pos[None, :] - pos[:, None]).abs()[None, None]
        for layer in self.layers:
            x = layer(x, bias)
        sel = labels >= 0
        # .float(): torch 1.13's CPU autocast hands layer_norm a bf16 input with fp32 weights and fails; the
        # other LayerNorms get fp32 sums (residual + bf16 matmul output). A no-op in fp32.
        t = self.t_ln(F.gelu(self.t_dense(x[sel])).float())
        logits = t @ self.wte.weight.t() + self.dec_bias
        return F.cross_entropy(logits, labels[sel])


torch.manual_seed(0)
model = Model()
with torch.no_grad():  # BERT-style init (std 0.02), as tsr_init_params does
    for name, p in model.named_parameters():
        if p.dim() == 2:
            p.normal_(0.0, 0.02)
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=1e-5 / 5e-4)
warm = 2
for s in range(warm + steps):
    if s == warm:
        t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == 1):
        loss = model(input_ids, mask, mlm)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
dt = (time.perf_counter() - t0) / steps
cpu_s = (time.process_time() - c0) / steps  # CPU seconds of all threads per step
print(json.dumps({"impl": "pytorch-eager", "precision": "bf16-autocast" if precision == 1 else "fp32",
                  "torch": torch.__version__, "threads": torch.get_num_threads(), "tokens": T,
                  "padded_tokens": B * seq, "params": sum(p.numel() for p in model.parameters()),
                  "step_s": round(dt, 4), "cpu_s": round(cpu_s, 4), "tokens_per_s": round(T / dt, 1), "loss": round(float(loss), 4)}))
