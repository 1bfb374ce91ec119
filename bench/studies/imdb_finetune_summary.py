#!/usr/bin/env python3
"""Markdown summary of bench/studies/imdb-finetune.sh's runs.jsonl: test accuracy (5,000 IMDB test reviews, 512
tokens) per model and label budget, mean and sample standard deviation over seeds, the paired pretrained - random
difference per seed, and the learning-rate sweep."""
import json
import statistics
import sys
from collections import defaultdict

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
main = [r for r in runs if not r["name"].startswith("sweep-")]
cells = defaultdict(dict)
for r in main:
    cells[(r["model"], r["labels"])][r["seed"]] = r


def fmt(values):
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


print("# IMDB finetuning study (issue 19)\n")
print("Test accuracy (%) on the 5,000 held-out test reviews, mean ± sample std over seeds (n = seeds).\n")
print("| labels | pretrained (4×256 MosaicBERT) | random init, same recipe | TF-IDF + LR | pretrained − random (paired) | n |")
print("|---:|---:|---:|---:|---:|---:|")
for n in sorted({r["labels"] for r in main}):
    pre, rnd, tf = cells.get(("pretrained", n), {}), cells.get(("random", n), {}), cells.get(("tfidf", n), {})
    paired = [pre[s]["test_accuracy"] - rnd[s]["test_accuracy"] for s in sorted(pre) if s in rnd]
    col = lambda c: fmt([c[s]["test_accuracy"] for s in sorted(c)]) if c else "–"
    print(f"| {n:,} | {col(pre)} | {col(rnd)} | {col(tf)} | {fmt(paired) if paired else '–'} | {len(paired)} |")

STUDENT = "pretrained 2x128 student"  # the distill phase's runs: a smaller encoder, not a recipe key of the demo's
variants = sorted({r["model"] for r in main if not r["model"].startswith(STUDENT)} - {"pretrained", "random", "tfidf"})
if variants:
    print("\nRecipe keys, each alone against the plain pretrained recipe (same seeds, subsets, learning rate and epochs);"
          " paired difference = variant − plain, per seed.\n")
    print("| recipe | labels | test accuracy | plain pretrained | variant − plain (paired) | n |")
    print("|---|---:|---:|---:|---:|---:|")
    for v in variants:
        for n in sorted({r["labels"] for r in main if r["model"] == v}):
            var, pre = cells[(v, n)], cells.get(("pretrained", n), {})
            paired = [var[s]["test_accuracy"] - pre[s]["test_accuracy"] for s in sorted(var) if s in pre]
            print(f"| {v} | {n:,} | {fmt([var[s]['test_accuracy'] for s in sorted(var)])} "
                  f"| {fmt([pre[s]['test_accuracy'] for s in sorted(var) if s in pre]) if paired else '–'} "
                  f"| {fmt(paired) if paired else '–'} | {len(paired)} |")

students = sorted({(r["model"], r["labels"]) for r in main if r["model"].startswith(STUDENT)})
if students:
    print("\nKnowledge distillation: the demo (4×256, above) teaches a 2×128 MosaicBERT student (T = 2, alpha = 0.5);"
          " the same student, seed, recipe and learning rate on the hard labels alone.\n")
    print("| student | labels | teacher's soft labels on | test accuracy |")
    print("|---|---:|---|---:|")
    for m, n in students:
        c = cells[(m, n)]
        soft = "—" if m == STUDENT else "the same rows" if n == 40000 else f"the {n:,} + all 40,000 training texts (unlabelled)"
        print(f"| {m[len('pretrained '):]} | {n:,} | {soft} | {fmt([c[s]['test_accuracy'] for s in sorted(c)])} |")

print("\nPer run (seed, learning rate, epochs, best dev accuracy, test accuracy, training seconds):\n")
print("| run | seed | lr | epochs | dev | test | s |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in runs:
    if r["model"] == "tfidf":
        print(f"| {r['name']} | {r['seed']} | | | | {100 * r['test_accuracy']:.2f} | |")
    else:
        test = "(not read)" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}"
        print(f"| {r['name']} | {r['seed']} | {r['lr']:g} | {r['epochs']} | {100 * r['dev_accuracy']:.2f} "
              f"| {test} | {r['train_seconds']} |")
