#!/usr/bin/env python3
"""Accuracy of a served sentiment model through the HTTP API (the ONNX Runtime serving path).

Usage: bench/imdb_http_eval.py URL MODEL FILE.jsonl [LIMIT]
  e.g. bench/imdb_http_eval.py http://localhost:8080 imdb-sentiment work-data/imdb/test.jsonl
Posts the reviews in batches of 32 with "truncate": true (so the server's max_input_length decides how
much of each review the model reads) and compares the top label with the file's "label".
Standard library only.
"""
import json
import sys
import urllib.request

url, model, path = sys.argv[1], sys.argv[2], sys.argv[3]
limit = int(sys.argv[4]) if len(sys.argv) > 4 else None
rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
rows = rows[:limit] if limit else rows
correct = 0
for i in range(0, len(rows), 32):
    batch = rows[i:i + 32]
    body = json.dumps({"inputs": [[r["text"]] for r in batch], "truncate": True}).encode()
    req = urllib.request.Request(f"{url}/v1/models/{model}/predict", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        preds = json.load(resp)
    correct += sum(1 for r, p in zip(batch, preds) if p[0]["label"] == str(r["label"]))
print(f"{model}: accuracy {correct / len(rows):.4f} on {len(rows)} reviews of {path} (via {url})")
