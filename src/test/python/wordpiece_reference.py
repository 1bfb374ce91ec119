#!/usr/bin/python3
"""Independent, deliberately naive reference for WordPieceTrainer (recomputes every count each step).

Spec it implements (see WordPieceTrainer's javadoc): BERT basic splitting (lower-case + strip accents,
split on whitespace, punctuation as separate words); words start as characters (first as is, others
"##"-prefixed); repeatedly merge the pair with the highest freq(ab)/(freq(a)*freq(b)), ties broken by
higher pair count, then smaller (id(a), id(b)); pairs seen < min_freq times are never merged.
Ids: [PAD] [UNK] [CLS] [SEP] [MASK], alphabet sorted by code point, "##"+alphabet, merges in order,
then [unusedN] up to the size rounded up to a multiple of 64.

Usage: /usr/bin/python3 wordpiece_reference.py CORPUS VOCAB_SIZE MIN_FREQ > expected_vocab.txt
"""
import sys
import unicodedata

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def words_of(line):
    text = unicodedata.normalize("NFD", line)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    out = []
    for chunk in text.split():
        cur = ""
        for ch in chunk:
            if is_punct(ch):
                if cur:
                    out.append(cur)
                cur = ""
                out.append(ch)
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


def main():
    path, size, min_freq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            for w in words_of(line):
                counts[w] = counts.get(w, 0) + 1
    alphabet = sorted({c for w in counts for c in w})
    symbols = alphabet + ["##" + c for c in alphabet]
    ids = {s: i for i, s in enumerate(symbols)}
    words = {w: [ids[c if i == 0 else "##" + c] for i, c in enumerate(w)] for w in sorted(counts)}
    target = (size + 63) // 64 * 64
    while len(SPECIALS) + len(symbols) < target:
        sym_freq, pair_freq = {}, {}
        for w, segs in words.items():
            n = counts[w]
            for i, s in enumerate(segs):
                sym_freq[s] = sym_freq.get(s, 0) + n
                if i + 1 < len(segs):
                    pair_freq[(s, segs[i + 1])] = pair_freq.get((s, segs[i + 1]), 0) + n
        best = None
        for (a, b), f in pair_freq.items():
            if f < min_freq:
                continue
            key = (-(f / (float(sym_freq[a]) * float(sym_freq[b]))), -f, a, b)
            if best is None or key < best:
                best = key
        if best is None:
            break
        a, b = best[2], best[3]
        merged = symbols[a] + symbols[b][2:]
        if merged not in ids:
            ids[merged] = len(symbols)
            symbols.append(merged)
        c = ids[merged]
        for w, segs in words.items():
            out, i = [], 0
            while i < len(segs):
                if i + 1 < len(segs) and segs[i] == a and segs[i + 1] == b:
                    out.append(c)
                    i += 2
                else:
                    out.append(segs[i])
                    i += 1
            words[w] = out
    vocab = SPECIALS + symbols
    u = 0
    while len(vocab) < max(target, (len(vocab) + 63) // 64 * 64):
        vocab.append("[unused%d]" % u)
        u += 1
    sys.stdout.write("".join(v + "\n" for v in vocab))


if __name__ == "__main__":
    main()
