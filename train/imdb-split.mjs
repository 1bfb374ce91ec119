// Seeded 80/10/10 split of the IMDB reviews; see get-imdb.sh for the documented method.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const [input, outDir] = process.argv.slice(2);
const SEED = 20240611;

// mulberry32: a small, well-known 32-bit PRNG; returns floats in [0, 1).
function mulberry32(a) {
  return function () {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const reviews = JSON.parse(readFileSync(input, 'utf8'));
if (!Array.isArray(reviews) || reviews.length === 0) throw new Error(`${input}: expected a non-empty JSON array`);
const clean = (t) => t.replace(/<br\s*\/?>/gi, ' ').replace(/\s+/g, ' ').trim();

const ids = reviews.map((_, i) => i);
const rand = mulberry32(SEED);
for (let i = ids.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [ids[i], ids[j]] = [ids[j], ids[i]];
}
const nTrain = Math.round(ids.length * 0.8), nDev = Math.round(ids.length * 0.1);
const parts = { train: ids.slice(0, nTrain), dev: ids.slice(nTrain, nTrain + nDev), test: ids.slice(nTrain + nDev) };

function writeAtomic(path, text) {
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}
for (const [name, part] of Object.entries(parts)) {
  const lines = part.map((id) => JSON.stringify({ id, text: clean(reviews[id].t), label: reviews[id].s === 1 ? "positive" : "negative" }));
  writeAtomic(join(outDir, `${name}.jsonl`), lines.join('\n') + '\n');
  console.log(`${name}: ${part.length} reviews, ${part.filter((id) => reviews[id].s === 1).length} positive`);
}
writeAtomic(join(outDir, 'corpus.txt'), parts.train.map((id) => clean(reviews[id].t)).join('\n') + '\n');
writeAtomic(join(outDir, 'corpus-dev.txt'), parts.dev.map((id) => clean(reviews[id].t)).join('\n') + '\n');
