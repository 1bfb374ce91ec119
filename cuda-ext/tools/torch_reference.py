#!/usr/bin/python3
"""
Independent reference for libtessera's whole-model training step (run by hand, outputs committed):

    /usr/bin/python3 cuda-ext/tools/torch_reference.py        # Debian python3-torch 1.13 + numpy

Its own PyTorch implementation (float64, autograd) of tiny MosaicBERT and BERT models with the
parameter layout of include/tessera.h, written from DESIGN.md §3, not from the C code:
  - MosaicBERT: word + token-type embeddings, LayerNorm; post-LN layers with fused Wqkv, ALiBi
    (symmetric, -slope·|i-j|), GeGLU MLP (gate = first half, exact erf GELU), no MLP bias on
    gated_layers; unpadded attention per sequence (cu_seqlens).
  - BERT: + learned positions, separate query/key/value, GELU intermediate/output.
  - heads: MLM (dense, gelu, LN, decoder tied to word embeddings + bias, loss on labelled tokens),
    classification (pooler tanh on the first token, or on the mean of the sequence's tokens with
    "pooling": 1, classifier, cross-entropy), regression (MSE).
Optimizer: torch.optim.AdamW with weight_decay = wd / initial_lr, which is exactly Composer's
DecoupledAdamW (p *= 1 - wd·lr/initial_lr), plus torch.nn.utils.clip_grad_norm_.

Per case, writes tests/fixtures/<case>/: case.json (config, batch, optimizer, tensor table, losses,
grad norms) and float32 little-endian blocks in table order: params.bin, grads.bin (step 1),
logits.bin (step 1), params_after.bin (after 3 steps).
"""
import json
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
MOSAIC, BERT = 0, 1
NONE, CLASSIFICATION, REGRESSION, MLM = 0, 1, 2, 3
CLS_POOLING, MEAN_POOLING = 0, 1


def alibi_slopes(n):
    p = 2 ** int(math.floor(math.log2(n)))
    s = [2 ** (-8 * (k + 1) / p) for k in range(p)]
    s += [2 ** (-8 * (2 * i + 1) / (2 * p)) for i in range(n - p)]
    return torch.tensor(s)


def tensor_table(c):
    """(name, shape) in the block order documented in tessera.h."""
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    t = [("bert.embeddings.word_embeddings.weight", [V, H]),
         ("bert.embeddings.token_type_embeddings.weight", [c["type_vocab_size"], H])]
    if c["variant"] == BERT:
        t.append(("bert.embeddings.position_embeddings.weight", [c["max_position_embeddings"], H]))
    t += [("bert.embeddings.LayerNorm.weight", [H]), ("bert.embeddings.LayerNorm.bias", [H])]
    for l in range(c["num_layers"]):
        p = f"bert.encoder.layer.{l}."
        if c["variant"] == MOSAIC:
            t += [(p + "attention.self.Wqkv.weight", [3 * H, H]), (p + "attention.self.Wqkv.bias", [3 * H])]
        else:
            t += [(p + f"attention.self.{n}.weight", [H, H]) for n in ("query", "key", "value")]
            t += [(p + f"attention.self.{n}.bias", [H]) for n in ("query", "key", "value")]
        t += [(p + "attention.output.dense.weight", [H, H]), (p + "attention.output.dense.bias", [H]),
              (p + "attention.output.LayerNorm.weight", [H]), (p + "attention.output.LayerNorm.bias", [H])]
        if c["variant"] == MOSAIC:
            t += [(p + "mlp.gated_layers.weight", [2 * I, H]), (p + "mlp.wo.weight", [H, I]), (p + "mlp.wo.bias", [H]),
                  (p + "mlp.layernorm.weight", [H]), (p + "mlp.layernorm.bias", [H])]
        else:
            t += [(p + "intermediate.dense.weight", [I, H]), (p + "intermediate.dense.bias", [I]),
                  (p + "output.dense.weight", [H, I]), (p + "output.dense.bias", [H]),
                  (p + "output.LayerNorm.weight", [H]), (p + "output.LayerNorm.bias", [H])]
    if c["head"] in (CLASSIFICATION, REGRESSION):
        t += [("bert.pooler.dense.weight", [H, H]), ("bert.pooler.dense.bias", [H]),
              ("classifier.weight", [c["num_labels"], H]), ("classifier.bias", [c["num_labels"]])]
    elif c["head"] == MLM:
        t += [("cls.predictions.transform.dense.weight", [H, H]), ("cls.predictions.transform.dense.bias", [H]),
              ("cls.predictions.transform.LayerNorm.weight", [H]), ("cls.predictions.transform.LayerNorm.bias", [H]),
              ("cls.predictions.decoder.bias", [V])]
    return t


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def linear(x, w, b=None):
    y = x @ w.t()
    return y + b if b is not None else y


def attention(qkv, cu, nh, slopes):
    H = qkv.shape[1] // 3
    D = H // nh
    q, k, v = qkv[:, :H], qkv[:, H:2 * H], qkv[:, 2 * H:]
    out = []
    for s in range(len(cu) - 1):
        a, b = cu[s], cu[s + 1]
        L = b - a
        qs, ks, vs = (t[a:b].reshape(L, nh, D).transpose(0, 1) for t in (q, k, v))
        scores = qs @ ks.transpose(1, 2) / math.sqrt(D)
        if slopes is not None:
            pos = torch.arange(L)
            dist = (pos[None, :] - pos[:, None]).abs().to(scores.dtype)
            scores = scores - slopes[:, None, None] * dist[None]
        p = torch.softmax(scores, dim=-1)
        out.append((p @ vs).transpose(0, 1).reshape(L, H))
    return torch.cat(out, 0)


def forward(c, P, batch):
    """Returns (loss, logits). P: name -> tensor."""
    H, eps = c["hidden_size"], c["layer_norm_eps"]
    ids, types, cu = batch["input_ids"], batch["token_type_ids"], batch["cu_seqlens"]
    x = P["bert.embeddings.word_embeddings.weight"][ids] + P["bert.embeddings.token_type_embeddings.weight"][types]
    if c["variant"] == BERT:
        pos = torch.cat([torch.arange(cu[s + 1] - cu[s]) for s in range(len(cu) - 1)])
        x = x + P["bert.embeddings.position_embeddings.weight"][pos]
    x = layer_norm(x, P["bert.embeddings.LayerNorm.weight"], P["bert.embeddings.LayerNorm.bias"], eps)
    slopes = alibi_slopes(c["num_heads"]) if c["variant"] == MOSAIC else None
    for l in range(c["num_layers"]):
        p = f"bert.encoder.layer.{l}."
        if c["variant"] == MOSAIC:
            wqkv, bqkv = P[p + "attention.self.Wqkv.weight"], P[p + "attention.self.Wqkv.bias"]
        else:
            wqkv = torch.cat([P[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")], 0)
            bqkv = torch.cat([P[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")], 0)
        att = attention(linear(x, wqkv, bqkv), cu, c["num_heads"], slopes)
        h = layer_norm(x + linear(att, P[p + "attention.output.dense.weight"], P[p + "attention.output.dense.bias"]),
                       P[p + "attention.output.LayerNorm.weight"], P[p + "attention.output.LayerNorm.bias"], eps)
        if c["variant"] == MOSAIC:
            I = c["intermediate_size"]
            g = linear(h, P[p + "mlp.gated_layers.weight"])
            a = gelu(g[:, :I]) * g[:, I:]
            x = layer_norm(h + linear(a, P[p + "mlp.wo.weight"], P[p + "mlp.wo.bias"]),
                           P[p + "mlp.layernorm.weight"], P[p + "mlp.layernorm.bias"], eps)
        else:
            a = gelu(linear(h, P[p + "intermediate.dense.weight"], P[p + "intermediate.dense.bias"]))
            x = layer_norm(h + linear(a, P[p + "output.dense.weight"], P[p + "output.dense.bias"]),
                           P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"], eps)
    if c["head"] == MLM:
        labels = batch["mlm_labels"]
        sel = labels >= 0
        t = gelu(linear(x[sel], P["cls.predictions.transform.dense.weight"], P["cls.predictions.transform.dense.bias"]))
        t = layer_norm(t, P["cls.predictions.transform.LayerNorm.weight"], P["cls.predictions.transform.LayerNorm.bias"], eps)
        logits = linear(t, P["bert.embeddings.word_embeddings.weight"], P["cls.predictions.decoder.bias"])
        loss = torch.nn.functional.cross_entropy(logits, labels[sel])
    else:
        if c.get("pooling", CLS_POOLING) == MEAN_POOLING:
            pooler_in = torch.stack([x[cu[s]:cu[s + 1]].mean(0) for s in range(len(cu) - 1)])
        else:
            pooler_in = x[torch.tensor(cu[:-1])]
        pooled = torch.tanh(linear(pooler_in, P["bert.pooler.dense.weight"], P["bert.pooler.dense.bias"]))
        logits = linear(pooled, P["classifier.weight"], P["classifier.bias"])
        if c["head"] == CLASSIFICATION:
            loss = torch.nn.functional.cross_entropy(logits, batch["class_labels"])
        else:
            logits = logits.reshape(-1)
            loss = ((logits - batch["targets"]) ** 2).mean()
    return loss, logits


def init_params(c, table, gen):
    P = {}
    for name, shape in table:
        if "LayerNorm" in name or "layernorm" in name:
            base = 1.0 if name.endswith("weight") else 0.0
            t = base + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("bias"):
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        # round to float32 so that C and torch start from the very same numbers
        P[name] = t.float().double().requires_grad_(True)
    return P


def make_batch(c, lengths, gen):
    T = sum(lengths)
    cu = [0]
    for L in lengths:
        cu.append(cu[-1] + L)
    ids = torch.randint(0, c["vocab_size"], (T,), generator=gen)
    types = torch.zeros(T, dtype=torch.long)
    for s in range(len(lengths)):  # second half of each sequence is segment B
        a, b = cu[s], cu[s + 1]
        types[a + (b - a) // 2:b] = 1
    batch = {"input_ids": ids, "token_type_ids": types, "cu_seqlens": cu}
    if c["head"] == MLM:
        labels = torch.full((T,), -100, dtype=torch.long)
        masked = torch.rand(T, generator=gen) < 0.3
        masked[0] = True
        labels[masked] = torch.randint(0, c["vocab_size"], (int(masked.sum()),), generator=gen)
        batch["mlm_labels"] = labels
    elif c["head"] == CLASSIFICATION:
        batch["class_labels"] = torch.randint(0, c["num_labels"], (len(lengths),), generator=gen)
    else:
        batch["targets"] = torch.randn(len(lengths), generator=gen).float().double()
    return batch


def flat(tensors, table):
    return np.concatenate([tensors[n].detach().reshape(-1).numpy() for n, _ in table]).astype("<f4")


def run_case(name, c, lengths, seed):
    gen = torch.Generator().manual_seed(seed)
    table = tensor_table(c)
    P = init_params(c, table, gen)
    batch = make_batch(c, lengths, gen)
    opt_cfg = {"lrs": [1e-2, 8e-3, 6e-3], "initial_lr": 1e-2, "beta1": 0.9, "beta2": 0.98, "eps": 1e-6,
               "weight_decay": 0.05, "max_grad_norm": 1.0}
    params0 = flat(P, table)
    params = [P[n] for n, _ in table]
    opt = torch.optim.AdamW(params, lr=opt_cfg["lrs"][0], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"],
                            weight_decay=opt_cfg["weight_decay"] / opt_cfg["initial_lr"])
    losses, norms = [], []
    for step, lr in enumerate(opt_cfg["lrs"]):
        opt.zero_grad()
        loss, logits = forward(c, P, batch)
        loss.backward()
        if step == 0:
            grads0 = flat({n: P[n].grad for n, _ in table}, table)
            logits0 = logits.detach().reshape(-1).numpy().astype("<f4")
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, opt_cfg["max_grad_norm"])))
        losses.append(float(loss))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
    final_loss, _ = forward(c, P, batch)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    params0.tofile(os.path.join(d, "params.bin"))
    grads0.tofile(os.path.join(d, "grads.bin"))
    logits0.tofile(os.path.join(d, "logits.bin"))
    flat(P, table).tofile(os.path.join(d, "params_after.bin"))
    meta = {
        "generator": "cuda-ext/tools/torch_reference.py (torch %s, float64)" % torch.__version__,
        "config": c,
        "batch": {k: (v if isinstance(v, list) else v.tolist()) for k, v in batch.items()},
        "num_tokens": int(sum(lengths)), "num_seqs": len(lengths), "max_seqlen": max(lengths),
        "optimizer": opt_cfg,
        "tensors": [[n, s] for n, s in table],
        "num_params": int(params0.size),
        "loss": losses[0], "losses": losses, "loss_after": float(final_loss), "grad_norms": norms,
        "num_logits": int(logits0.size),
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: {params0.size} params, loss {losses[0]:.6f} -> {float(final_loss):.6f}, grad norms {norms}")


def base(variant, head, **kw):
    c = {"variant": variant, "head": head, "vocab_size": 64, "hidden_size": 48, "num_layers": 2, "num_heads": 6,
         "intermediate_size": 40, "type_vocab_size": 2, "max_position_embeddings": 0, "num_labels": 0,
         "layer_norm_eps": 1e-12, "hidden_dropout": 0.0, "attention_dropout": 0.0}
    c.update(kw)
    return c


CASES = {
    # 6 heads: not a power of two, exercises the second ALiBi slope family; odd sequence lengths
    "mosaic_mlm": (base(MOSAIC, MLM), [5, 12, 1, 9], 1),
    "bert_cls": (base(BERT, CLASSIFICATION, hidden_size=32, num_heads=4, intermediate_size=56,
                      max_position_embeddings=16, num_labels=3), [5, 12, 9], 2),
    "mosaic_reg": (base(MOSAIC, REGRESSION, num_layers=1, num_labels=1), [7, 3, 11, 4], 3),
    "bert_mlm": (base(BERT, MLM, hidden_size=32, num_heads=4, num_layers=1, intermediate_size=24,
                      max_position_embeddings=16), [13, 6], 4),
    # MEAN pooling (classifier_pooling "mean"): a one-token sequence, whose mean is its [CLS] row, among longer ones
    "mosaic_cls_mean": (base(MOSAIC, CLASSIFICATION, num_labels=3, pooling=MEAN_POOLING), [6, 1, 13, 8], 5),
}

if __name__ == "__main__":
    # no arguments: every case; else only the named ones (the others' committed files stay as they are)
    import sys
    for name in sys.argv[1:] or CASES:
        run_case(name, *CASES[name])
