// The official `cohere-ai` npm client (v1 and v2 rerank) against Tessera's /v1/rerank and /v2/rerank:
//   node check.mjs http://localhost:8080 MODEL
// Exits non-zero unless the client parses the answers and its ranking equals TEI /rerank's for the same model.
import { CohereClient, CohereClientV2 } from "cohere-ai";

const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node check.mjs BASE_URL MODEL");
  process.exit(2);
}
const query = "was the movie any good";
const documents = ["the movie was good", "a dull , dreadful film", "the plot goes nowhere at all", "good good"];
const token = process.env.TESSERA_API_KEY || "not-needed";

const v1 = new CohereClient({ token, environment: base });
const got1 = await v1.rerank({ model, query, documents: documents.map((text) => ({ text })), topN: 2, returnDocuments: true });
const v2 = new CohereClientV2({ token, environment: base });
const got2 = await v2.rerank({ model, query, documents, topN: 3 });
const reference = await (await fetch(`${base}/v1/models/${model}/rerank`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query, texts: documents }),
})).json();

let worst = 0;
const problems = [];
for (const [name, got, n] of [["v1", got1, 2], ["v2", got2, 3]]) {
  if (got.results.length !== n) problems.push(`${name}: ${got.results.length} results, top_n was ${n}`);
  got.results.forEach((r, i) => {
    if (r.index !== reference[i].index) problems.push(`${name}: result ${i} is document ${r.index}, TEI /rerank says ${reference[i].index}`);
    worst = Math.max(worst, Math.abs(r.relevanceScore - reference[i].score));
  });
}
got1.results.forEach((r) => {
  if (r.document?.text !== documents[r.index]) problems.push(`v1: document of result ${r.index} is ${JSON.stringify(r.document)}`);
});
const ok = problems.length === 0 && worst <= 1e-6;
console.log(JSON.stringify({ ok, max_abs_diff: worst, problems, v1: got1.results, v2: got2.results }));
process.exit(ok ? 0 : 1);
