// The official `openai` npm client against Tessera's OpenAI-compatible /v1/embeddings:
//   node check.mjs http://localhost:8080 MODEL
// Exits non-zero unless the client's vectors (its default base64 transport, and float) equal /embed's.
import OpenAI from "openai";

const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node check.mjs BASE_URL MODEL");
  process.exit(2);
}
const texts = ["the movie was good", "a dull , dreadful film", "the plot goes nowhere at all"];
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.TESSERA_API_KEY || "not-needed", maxRetries: 0 });

const viaDefault = await client.embeddings.create({ model, input: texts }); // the SDK asks for base64 and decodes it
const viaFloat = await client.embeddings.create({ model, input: texts, encoding_format: "float" });
const reference = await (await fetch(`${base}/v1/models/${model}/embed`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ inputs: texts.map((t) => [t]) }),
})).json();

let worst = 0;
for (const result of [viaDefault, viaFloat]) {
  if (result.data.length !== texts.length) throw new Error(`expected ${texts.length} embeddings, got ${result.data.length}`);
  result.data.forEach((item, i) => {
    const want = reference[i];
    if (item.embedding.length !== want.length) throw new Error(`embedding ${i}: ${item.embedding.length} dims, /embed has ${want.length}`);
    item.embedding.forEach((x, k) => { worst = Math.max(worst, Math.abs(x - want[k])); });
  });
}
let failedAsExpected = false;
try {
  await client.embeddings.create({ model: "no-such-model", input: "x" });
} catch (e) {
  failedAsExpected = e.status === 404 && /no model named/.test(e.message);
}
const ok = worst <= 1e-6 && failedAsExpected && viaDefault.usage.prompt_tokens > 0;
console.log(JSON.stringify({ ok, max_abs_diff: worst, usage: viaDefault.usage, model: viaDefault.model, unknown_model_is_404: failedAsExpected }));
process.exit(ok ? 0 : 1);
