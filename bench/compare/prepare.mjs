// Prepares everything the servers and the client read, from local files only (no hub, no network):
//  - peer model dirs in the transformers.js layout under CACHE/peer-models/<name>/ (config.json,
//    tokenizer.json, tokenizer_config.json, onnx/model.onnx -> the ONNX graph the peer runs)
//  - CACHE/texts.json: the three traffic shapes, cut from IMDB reviews with the MiniLM tokenizer
// Usage: node prepare.mjs CACHE   (expects CACHE/reviews.json, CACHE/minilm-src/*, CACHE/imdb-sentiment.onnx)
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';

const CACHE = path.resolve(process.argv[2] ?? '.cache');
const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
env.allowRemoteModels = false;
env.localModelPath = path.join(CACHE, 'peer-models');

const MAX_LEN = 512;
// tokenizer.json without baked-in truncation/padding (langchain4j's MiniLM file pads and truncates to
// 128): every server then truncates only where it is told to, at MAX_LEN.
function cleanTokenizer(src, dst) {
  const t = JSON.parse(fs.readFileSync(src, 'utf8'));
  t.truncation = null;
  t.padding = null;
  fs.writeFileSync(dst, JSON.stringify(t));
}
function tokenizerConfig() {
  return { tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: MAX_LEN,
    unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
    clean_up_tokenization_spaces: true };
}
function peerDir(name, onnx, tokenizerJson, config) {
  const d = path.join(CACHE, 'peer-models', name);
  fs.mkdirSync(path.join(d, 'onnx'), { recursive: true });
  const link = path.join(d, 'onnx', 'model.onnx');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.resolve(onnx), link);
  cleanTokenizer(tokenizerJson, path.join(d, 'tokenizer.json'));
  fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(), null, 1));
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config, null, 1));
  return d;
}

// MiniLM: peers run the original PyTorch-exported graph
const miniCfg = { architectures: ['BertModel'], model_type: 'bert', vocab_size: 30522, hidden_size: 384,
  num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536, max_position_embeddings: 512,
  type_vocab_size: 2, hidden_act: 'gelu', layer_norm_eps: 1e-12, pad_token_id: 0 };
peerDir('all-minilm-l6-v2', path.join(CACHE, 'minilm-src/all-minilm-l6-v2.onnx'),
  path.join(CACHE, 'minilm-src/all-minilm-l6-v2-tokenizer.json'), miniCfg);
// the Tessera checkpoint of MiniLM gets the same cleaned tokenizer.json
const tmini = path.join(CACHE, 'tessera-models/minilm/all-minilm-l6-v2');
if (fs.existsSync(tmini)) cleanTokenizer(path.join(CACHE, 'minilm-src/all-minilm-l6-v2-tokenizer.json'), path.join(tmini, 'tokenizer.json'));

// the demo classifier: peers run Tessera's portable export; config.json carries id2label
const imdbCfg = JSON.parse(fs.readFileSync(path.join(REPO, 'checkpoints/imdb-sentiment/config.json'), 'utf8'));
delete imdbCfg.auto_map; // remote-code hints; transformers.js needs only model_type + id2label
peerDir('imdb-sentiment', path.join(CACHE, 'imdb-sentiment.onnx'),
  path.join(REPO, 'checkpoints/imdb-sentiment/tokenizer.json'), imdbCfg);

// ---- texts ----
const tokMini = await AutoTokenizer.from_pretrained('all-minilm-l6-v2');
const tokImdb = await AutoTokenizer.from_pretrained('imdb-sentiment');
const nTok = (tok, s) => tok(s).input_ids.dims.at(-1); // with [CLS]/[SEP]

let seed = 12345; // mulberry32: fixed texts run to run
const rnd = () => { seed |= 0; seed = (seed + 0x6D2B79F5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const reviews = JSON.parse(fs.readFileSync(path.join(CACHE, 'reviews.json'), 'utf8'))
  .map((r) => r.t.replace(/<br\s*\/?>/g, ' ').replace(/\s+/g, ' ').trim());
for (let i = reviews.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [reviews[i], reviews[j]] = [reviews[j], reviews[i]]; }

// longest word prefix of `words` with at most `target` MiniLM tokens (binary search)
function prefixWithTokens(words, target) {
  let lo = 1, hi = words.length, best = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, s = words.slice(0, mid).join(' '), n = nTok(tokMini, s);
    if (n <= target) { best = [s, n]; lo = mid + 1; } else hi = mid - 1;
  }
  return best;
}
const N = 256;
function shape(target, tol) {
  const out = [];
  for (const r of reviews) {
    if (out.length >= N) break;
    const w = r.split(' ');
    if (w.length < target / 2) continue;
    const p = prefixWithTokens(w, target);
    if (p && p[1] >= target - tol && nTok(tokImdb, p[0]) <= MAX_LEN) out.push(p[0]);
  }
  return out;
}
const short = shape(128, 4);
const long = shape(500, 8);
const mixed = [];
for (const r of reviews) {
  if (mixed.length >= N) break;
  const w = r.split(' ');
  const k = 8 + Math.floor(rnd() * 393); // 8..400 words
  if (w.length < k) continue;
  const s = w.slice(0, k).join(' ');
  if (nTok(tokMini, s) <= MAX_LEN && nTok(tokImdb, s) <= MAX_LEN) mixed.push(s);
}
const stats = (a, tok) => { const n = a.map((s) => nTok(tok, s)); return { n: a.length, min: Math.min(...n), mean: +(n.reduce((x, y) => x + y, 0) / n.length).toFixed(1), max: Math.max(...n) }; };
const texts = { max_length: MAX_LEN, short, long, mixed };
fs.writeFileSync(path.join(CACHE, 'texts.json'), JSON.stringify(texts));
for (const k of ['short', 'long', 'mixed']) {
  console.log(`texts ${k}: MiniLM tokens ${JSON.stringify(stats(texts[k], tokMini))}, imdb-sentiment tokens ${JSON.stringify(stats(texts[k], tokImdb))}`);
}
