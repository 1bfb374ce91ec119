// Converts one of the sentiment@5.0.2 validation fixtures to our JSONL; see get-ood.sh for the source and method.
// Usage: node ood-convert.mjs FIXTURE.json OUT.jsonl
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: node ood-convert.mjs FIXTURE.json OUT.jsonl');

const rows = JSON.parse(readFileSync(input, 'utf8'));
if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${input}: expected a non-empty JSON array`);
const clean = (t) => t.replace(/\s+/g, ' ').trim();

const lines = [];
const counts = { negative: 0, positive: 0 };
let skipped = 0;
rows.forEach((row, id) => {
  const text = typeof row.text === 'string' ? clean(row.text) : '';
  // The fixtures end with one {"text": "", "class": null} entry (a blank last line of the source file).
  if (text === '' && row.class === null) { skipped++; return; }
  if (text === '' || (row.class !== 0 && row.class !== 1)) {
    throw new Error(`${input}: entry ${id} has text ${JSON.stringify(row.text)} and class ${JSON.stringify(row.class)}`);
  }
  const label = row.class === 1 ? 'positive' : 'negative';
  counts[label]++;
  lines.push(JSON.stringify({ id, text, label }));
});

writeFileSync(output + '.tmp', lines.join('\n') + '\n');
renameSync(output + '.tmp', output);
const distinct = new Set(lines.map((l) => JSON.parse(l).text)).size;
console.log(`${output}: ${lines.length} sentences (${counts.negative} negative, ${counts.positive} positive; `
  + `${distinct} distinct texts; ${skipped} empty entries skipped)`);
