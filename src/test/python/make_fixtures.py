#!/usr/bin/python3
"""Independent reference for Tessera's Hugging Face bridge and numerics.

Run by hand with Debian's python3 (torch 1.13, CPU):

    /usr/bin/python3 src/test/python/make_fixtures.py

It writes tiny checkpoints in the Hugging Face layout under src/test/resources/fixtures/<name>/ with
config.json, weights (safetensors written BY HAND here, or torch.save's pytorch_model.bin), vocab.txt,
tokenizer_config.json and expected.json. Everything is seeded, so a rerun gives identical files.

The forward passes below are our own torch code written from DESIGN.md section 3 (not imported from
transformers or MosaicBERT). They run in float64 on the float32 (or bf16/f16-rounded) weights, so the
expected values are more accurate than any float32 implementation under test.

expected.json:
  cases[]: name, input_ids, attention_mask, token_type_ids ([batch][seq]);
           last_hidden_state [batch][seq][hidden] - positions where attention_mask == 0 are ZERO
             (as MosaicBERT's unpadded implementation returns them); compare only where mask == 1;
           sentence_embedding [batch][hidden] = mean of last_hidden_state over mask == 1;
           logits: [batch][num_labels] for classifiers/regression, [batch][seq][vocab] for MLM
             (padded positions zero as well).
  tokenization[]: text, optional text_pair, input_ids, token_type_ids (from the WordPiece below).
  weights{}: for EVERY canonical tensor (bert.-prefixed HF name, after stripping any `model.` prefix):
           shape, sum, checksum = sum(v[i] * (i % 97 + 1)) over the row-major flattening (float64),
           first = first 4 values. Values are those the loader must produce in float32.
  Floats are written with 8 significant digits.
"""
import collections
import json
import math
import os
import pickle
import re
import shutil
import struct
import unicodedata
import zipfile

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures")

# ----------------------------------------------------------------------------------------------
# Vocabulary and a small independent WordPiece (BERT basic tokenizer + greedy longest-match-first)
# ----------------------------------------------------------------------------------------------
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = [".", ",", "!", "?", "'", "-", ":", ";", "(", ")"]
WORDS = """the a an is was are were be been this that it he she they we you i and or but not no
of to in on at for with by from as movie film story book music song great good bad terrible
wonderful boring fun funny love hate like enjoy play watch read think very really quite so too
all some many one two people time day night world man woman actor plot end ending slow fast
best worst never ever again more most than then there here what who why how do does did have has
had will would can could should""".split()
SUFFIXES = ["##s", "##ed", "##ing", "##ly", "##er", "##est", "##ful", "##ness", "##able", "##y", "##n't"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
SINGLE = [c for c in LETTERS if c not in WORDS]
VOCAB = SPECIAL + PUNCT + WORDS + SUFFIXES + SINGLE + ["##" + c for c in LETTERS if "##" + c not in SUFFIXES]
assert len(set(VOCAB)) == len(VOCAB), "duplicate vocab entry"
TOK2ID = {t: i for i, t in enumerate(VOCAB)}
PAD, UNK, CLS, SEP = 0, 1, 2, 3


def is_punct(ch):
    cp = ord(ch)
    # ASCII non-alphanumerics count as punctuation for BERT, as do Unicode P* categories
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text):
    text = text.lower()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    words, cur = [], []
    for ch in text:
        if ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        elif is_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def wordpiece(word):
    if len(word) > 100:
        return [UNK]
    out, start = [], 0
    while start < len(word):
        end, piece = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in TOK2ID:
                piece = TOK2ID[sub]
                break
            end -= 1
        if piece is None:
            return [UNK]  # the whole word becomes [UNK], as BERT does
        out.append(piece)
        start = end
    return out


def tokenize(text):
    # special tokens written in the text (e.g. [MASK]) are kept whole, as HF added tokens are
    out = []
    for part in re.split(r"(\[PAD\]|\[UNK\]|\[CLS\]|\[SEP\]|\[MASK\])", text):
        if part in TOK2ID and part in SPECIAL:
            out.append(TOK2ID[part])
        else:
            out += [i for w in basic_tokenize(part) for i in wordpiece(w)]
    return out


def encode(text, pair=None):
    a = tokenize(text)
    ids = [CLS] + a + [SEP]
    types = [0] * len(ids)
    if pair is not None:
        b = tokenize(pair)
        ids += b + [SEP]
        types += [1] * (len(b) + 1)
    return ids, types


def batch(encodings):
    n = max(len(ids) for ids, _ in encodings)
    input_ids = [ids + [PAD] * (n - len(ids)) for ids, _ in encodings]
    types = [t + [0] * (n - len(t)) for _, t in encodings]
    mask = [[1] * len(ids) + [0] * (n - len(ids)) for ids, _ in encodings]
    return input_ids, mask, types


TEXTS = [
    "This movie was great!",
    "I really didn't enjoy the plot; the ending was slow, boring and far too long.",
    "The best film of the year: wonderful actors, funny story, great music and a fast ending. "
    "I would watch it again and again.",
    "Xylophones sound GREAT in 2024, don't they?",
    "Café déjà vu",
]
PAIRS = [
    ("A man is playing music.", "A woman plays a song."),
    ("Who wrote the book?", "Nobody knows who wrote this story."),
]

# ----------------------------------------------------------------------------------------------
# Reference forward passes (float64)
# ----------------------------------------------------------------------------------------------


def alibi_slopes(n):
    def pow2(m):
        return [2.0 ** (-8.0 * (k + 1) / m) for k in range(m)]

    p = 2 ** int(math.floor(math.log2(n)))
    s = pow2(p)
    if p != n:
        s += pow2(2 * p)[0::2][: n - p]
    return torch.tensor(s, dtype=torch.float64)


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def linear(x, W, p, bias=True):
    y = x @ W[p + ".weight"].T
    return y + W[p + ".bias"] if bias else y


def attention(q, k, v, heads, bias):
    B, S, D = q.shape
    d = D // heads
    q, k, v = (t.view(B, S, heads, d).permute(0, 2, 1, 3) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
    ctx = torch.softmax(scores, dim=-1) @ v
    return ctx.permute(0, 2, 1, 3).reshape(B, S, D)


def pad_bias(mask):
    # -inf on padded keys: the padded key gets exactly zero weight, like unpadded attention
    m = torch.tensor(mask, dtype=torch.float64)
    return torch.where(m[:, None, None, :] > 0, torch.zeros(()), torch.full((), -math.inf, dtype=torch.float64))


def encoder(W, cfg, ids, mask, types, mosaic):
    ids_t, tt = torch.tensor(ids), torch.tensor(types)
    eps, H = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    D, B, S = cfg["hidden_size"], ids_t.shape[0], ids_t.shape[1]
    x = W["bert.embeddings.word_embeddings.weight"][ids_t] + W["bert.embeddings.token_type_embeddings.weight"][tt]
    bias = pad_bias(mask)
    if mosaic:
        pos = torch.arange(S, dtype=torch.float64)
        rel = -(pos[None, :] - pos[:, None]).abs()
        bias = bias + alibi_slopes(H)[None, :, None, None] * rel[None, None]
    else:
        x = x + W["bert.embeddings.position_embeddings.weight"][torch.arange(S)][None]
    x = layer_norm(x, W["bert.embeddings.LayerNorm.weight"], W["bert.embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        if mosaic:
            qkv = linear(x, W, p + "attention.self.Wqkv")
            q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        else:
            q, k, v = (linear(x, W, p + "attention.self." + n) for n in ("query", "key", "value"))
        a = linear(attention(q, k, v, H, bias), W, p + "attention.output.dense")
        h = layer_norm(x + a, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        if mosaic:
            I = cfg["intermediate_size"]
            g = linear(h, W, p + "mlp.gated_layers", bias=False)
            m = gelu(g[..., :I]) * g[..., I:]  # first half is the gate
            x = layer_norm(h + linear(m, W, p + "mlp.wo"), W[p + "mlp.layernorm.weight"], W[p + "mlp.layernorm.bias"], eps)
        else:
            m = gelu(linear(h, W, p + "intermediate.dense"))
            x = layer_norm(h + linear(m, W, p + "output.dense"), W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x * torch.tensor(mask, dtype=torch.float64)[..., None]


def heads_forward(W, cfg, x, mask, head):
    if head in ("cls", "reg"):
        pooled = torch.tanh(linear(x[:, 0], W, "bert.pooler.dense"))
        return linear(pooled, W, "classifier")
    if head == "mlm":
        t = gelu(linear(x, W, "cls.predictions.transform.dense"))
        t = layer_norm(t, W["cls.predictions.transform.LayerNorm.weight"], W["cls.predictions.transform.LayerNorm.bias"],
                       cfg["layer_norm_eps"])
        dec = W.get("cls.predictions.decoder.weight", W["bert.embeddings.word_embeddings.weight"])
        logits = t @ dec.T + W["cls.predictions.decoder.bias"]
        return logits * torch.tensor(mask, dtype=torch.float64)[..., None]
    return None


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------


def make_weights(cfg, mosaic, head, seed):
    g = torch.Generator().manual_seed(seed)
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def rnd(*shape, std=0.2):
        return torch.randn(*shape, generator=g) * std

    def ln(p, n):
        W[p + ".weight"] = 1.0 + rnd(n, std=0.1)
        W[p + ".bias"] = rnd(n, std=0.1)

    def lin(p, o, i, bias=True):
        W[p + ".weight"] = rnd(o, i, std=1.0 / math.sqrt(i))
        if bias:
            W[p + ".bias"] = rnd(o, std=0.1)

    W = {}
    W["bert.embeddings.word_embeddings.weight"] = rnd(V, D, std=0.5)
    W["bert.embeddings.token_type_embeddings.weight"] = rnd(cfg["type_vocab_size"], D, std=0.5)
    if not mosaic:
        W["bert.embeddings.position_embeddings.weight"] = rnd(cfg["max_position_embeddings"], D, std=0.5)
    ln("bert.embeddings.LayerNorm", D)
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        if mosaic:
            lin(p + "attention.self.Wqkv", 3 * D, D)
        else:
            for n in ("query", "key", "value"):
                lin(p + "attention.self." + n, D, D)
        lin(p + "attention.output.dense", D, D)
        ln(p + "attention.output.LayerNorm", D)
        if mosaic:
            lin(p + "mlp.gated_layers", 2 * I, D, bias=False)
            lin(p + "mlp.wo", D, I)
            ln(p + "mlp.layernorm", D)
        else:
            lin(p + "intermediate.dense", I, D)
            lin(p + "output.dense", D, I)
            ln(p + "output.LayerNorm", D)
    if head in ("cls", "reg"):
        lin("bert.pooler.dense", D, D)
        lin("classifier", 1 if head == "reg" else len(cfg["id2label"]), D)
    if head == "mlm":
        lin("cls.predictions.transform.dense", D, D)
        ln("cls.predictions.transform.LayerNorm", D)
        W["cls.predictions.decoder.bias"] = rnd(V, std=0.1)
    return W


# ----------------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------------
ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.float16:
        return t.numpy().astype("<f2").tobytes()
    return t.numpy().astype("<f4").tobytes()


def write_safetensors(path, tensors):
    """safetensors by hand: u64 LE header length, JSON header (space padded to 8 bytes), raw LE data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        b = tensor_bytes(tensors[name])
        header[name] = {"dtype": ST_DTYPES[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off


def write_sharded(dirname, tensors, shards):
    names = sorted(tensors)
    per = (len(names) + shards - 1) // shards
    weight_map, total = {}, 0
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        total += write_safetensors(os.path.join(dirname, fname), part)
        weight_map.update({n: fname for n in part})
    with open(os.path.join(dirname, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def r8(x):
    return float("%.8g" % x)


def nested(t):
    if t.dim() == 0:
        return r8(t.item())
    return [nested(s) for s in t] if t.dim() > 1 else [r8(v) for v in t.tolist()]


def weight_summary(W):
    out = {}
    for name in sorted(W):
        v = W[name].detach().to(torch.float64).reshape(-1)
        k = (torch.arange(v.numel()) % 97 + 1).to(torch.float64)
        out[name] = {"shape": list(W[name].shape), "sum": r8(v.sum().item()),
                     "checksum": r8((v * k).sum().item()), "first": [r8(x) for x in v[:4].tolist()]}
    return out


def base_config(**kw):
    cfg = {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": 0.0,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "model_type": "bert",
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.26.0",
        "type_vocab_size": 2,
        "vocab_size": len(VOCAB),
    }
    cfg.update(kw)
    return cfg


MOSAIC_AUTO_MAP = {"AutoConfig": "configuration_bert.BertConfig",
                   "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
                   "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification"}


def write_tokenizer_files(d):
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer",
                   "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                   "mask_token": "[MASK]", "strip_accents": None, "tokenize_chinese_chars": True}, f, indent=2)


def fixture(name, cfg, mosaic, head, seed, cases, writer, cast=None):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    W = make_weights(cfg, mosaic, head, seed)
    if cast is not None:  # the stored dtype; the reference uses exactly the rounded values
        W = {k: v.to(cast) for k, v in W.items()}
    W64 = {k: v.to(torch.float64) for k, v in W.items()}
    out_cases = []
    # self-check: padding must not change a sequence's outputs (mask and ALiBi are right)
    for enc in cases[0][1]:
        alone = encoder(W64, cfg, *batch([enc]), mosaic)
        ids, mask, types = batch(cases[0][1])
        padded = encoder(W64, cfg, ids, mask, types, mosaic)[cases[0][1].index(enc), :len(enc[0])]
        assert torch.allclose(alone[0], padded, atol=1e-12), name
    out_cases = []
    for cname, encs in cases:
        ids, mask, types = batch(encs)
        x = encoder(W64, cfg, ids, mask, types, mosaic)
        m = torch.tensor(mask, dtype=torch.float64)
        case = {"name": cname, "input_ids": ids, "attention_mask": mask, "token_type_ids": types,
                "last_hidden_state": nested(x),
                "sentence_embedding": nested(x.sum(1) / m.sum(1, keepdim=True))}
        logits = heads_forward(W64, cfg, x, mask, head)
        if logits is not None:
            case["logits"] = nested(logits)
        out_cases.append(case)
    tokenization = []
    for t in TEXTS:
        ids, types = encode(t)
        tokenization.append({"text": t, "input_ids": ids, "token_type_ids": types})
    for a, b in PAIRS:
        ids, types = encode(a, b)
        tokenization.append({"text": a, "text_pair": b, "input_ids": ids, "token_type_ids": types})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    write_tokenizer_files(d)
    writer(d, W)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"cases": out_cases, "tokenization": tokenization,
                   "weights": weight_summary({k: v.float() for k, v in W.items()})}, f, separators=(",", ":"))


def single(texts):
    return [encode(t) for t in texts]


def pairs(ps):
    return [encode(a, b) for a, b in ps]


def main():
    torch.manual_seed(0)
    s12 = alibi_slopes(12).tolist()
    assert s12 == [2.0 ** -k for k in range(1, 9)] + [2.0 ** -x for x in (0.5, 1.5, 2.5, 3.5)], s12
    long_batch = single(TEXTS[:3])
    assert max(len(i) for i, _ in long_batch) > 16, "need a sequence past alibi_starting_size"
    assert max(len(i) for i, _ in long_batch) <= 40

    # 1. MosaicBERT classifier, 12 heads (non-power-of-2 ALiBi slopes), labels only via id2label.
    cfg = base_config(hidden_size=48, num_hidden_layers=2, num_attention_heads=12, intermediate_size=64,
                      alibi_starting_size=16, auto_map=MOSAIC_AUTO_MAP,
                      id2label={"0": "negative", "1": "neutral", "2": "positive"})
    fixture("mosaic-cls12", cfg, True, "cls", 1,
            [("padded-batch", long_batch), ("pairs", pairs(PAIRS))],
            lambda d, W: write_safetensors(os.path.join(d, "model.safetensors"), W))

    # 2. MosaicBERT regression in pytorch_model.bin, with an old alibi buffer and a tensor that is a
    #    view at a non-zero storage offset (pooler bias shares one storage with the pooler weight).
    cfg = base_config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                      alibi_starting_size=16, auto_map=MOSAIC_AUTO_MAP, problem_type="regression",
                      id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})

    def write_reg_bin(d, W):
        sd = dict(W)
        D = cfg["hidden_size"]
        buf = torch.cat([W["bert.pooler.dense.weight"].reshape(-1), W["bert.pooler.dense.bias"]])
        sd["bert.pooler.dense.weight"] = buf[:D * D].view(D, D)
        sd["bert.pooler.dense.bias"] = buf[D * D:]
        sd["bert.encoder.alibi"] = torch.randn(1, 4, 16, 16)
        torch.save(dict(sorted(sd.items())), os.path.join(d, "pytorch_model.bin"))

    fixture("mosaic-reg-bin", cfg, True, "reg", 2,
            [("pairs", pairs(PAIRS)), ("single", single(TEXTS[3:5]))], write_reg_bin)

    # 3. MosaicBERT MLM, BF16, sharded, Composer `model.` prefix, tied decoder absent.
    #    transformers writes a default two-label id2label into every config: it must not create a head.
    cfg = base_config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
                      alibi_starting_size=16, auto_map=MOSAIC_AUTO_MAP, architectures=["BertForMaskedLM"],
                      torch_dtype="bfloat16", vocab_size=len(VOCAB) + (-len(VOCAB)) % 8,
                      id2label={"0": "LABEL_0", "1": "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1})

    def write_mlm_bf16(d, W):
        write_sharded(d, {"model." + k: v for k, v in W.items()}, 2)

    fixture("mosaic-mlm-sharded-bf16", cfg, True, "mlm", 3,
            [("masked", single(["The movie was [MASK].", "I [MASK] this book; it is so funny!"]))],
            write_mlm_bf16, cast=torch.bfloat16)

    # 4. Classic BERT classifier, F16 safetensors.
    cfg = base_config(hidden_size=48, num_hidden_layers=2, num_attention_heads=6, intermediate_size=96,
                      max_position_embeddings=64, torch_dtype="float16",
                      id2label={"0": "NEGATIVE", "1": "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
                      problem_type="single_label_classification")
    fixture("bert-cls-f16", cfg, False, "cls", 4,
            [("padded-batch", long_batch), ("pairs", pairs(PAIRS))],
            lambda d, W: write_safetensors(os.path.join(d, "model.safetensors"), W), cast=torch.float16)

    # 5. Classic BERT MLM in pytorch_model.bin: decoder.weight IS the word embedding tensor (one storage),
    #    and the transform dense weight is stored non-contiguously (a transposed view).
    cfg = base_config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=64, architectures=["BertForMaskedLM"])

    def write_mlm_bin(d, W):
        # an OrderedDict with _metadata, exactly what module.state_dict() returns
        sd = collections.OrderedDict(sorted(W.items()))
        sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bert", {"version": 1})])
        sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
        w = W["cls.predictions.transform.dense.weight"]
        sd["cls.predictions.transform.dense.weight"] = w.t().contiguous().t()
        assert not sd["cls.predictions.transform.dense.weight"].is_contiguous()
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))

    fixture("bert-mlm-bin", cfg, False, "mlm", 5,
            [("masked", single(["The [MASK] was great.", "They [MASK] the music, not the story."]))],
            write_mlm_bin)

    # 6. A hostile pytorch_model.bin whose pickle calls os.system: a reader must refuse it.
    class Evil:
        def __reduce__(self):
            return os.system, ("echo pwned-by-pickle",)

    d = os.path.join(ROOT, "hostile-pickle")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with zipfile.ZipFile(os.path.join(d, "pytorch_model.bin"), "w") as z:
        stamp = (2020, 1, 1, 0, 0, 0)  # fixed, so the file is byte-identical on every run
        z.writestr(zipfile.ZipInfo("archive/data.pkl", stamp),
                   pickle.dumps({"bert.embeddings.word_embeddings.weight": Evil()}, protocol=2))
        z.writestr(zipfile.ZipInfo("archive/version", stamp), "3\n")


if __name__ == "__main__":
    main()
