-- wrk script: POST /predict with a body of BATCH reviews (env BATCH, default 1); env REPEAT makes each
-- review REPEAT times longer (1: ~20 tokens; 12: ~250 tokens, a typical IMDB review).
local batch = tonumber(os.getenv("BATCH") or "1")
local repeat_n = tonumber(os.getenv("REPEAT") or "1")
-- MIXED=1: every other review of a batch is short (REPEAT applies to the rest): a mix of lengths
local mixed = os.getenv("MIXED") == "1"
local texts = {
  "This movie was a wonderful surprise, the acting was superb and the story kept me hooked until the end.",
  "A dull, predictable plot with wooden performances. I wanted my two hours back.",
  "Not the best film of the year, but the soundtrack and the photography make it worth watching.",
  "The director tried too hard; some scenes are beautiful but the pacing is a mess.",
}
local items = {}
for i = 1, batch do
  local n = (mixed and i % 2 == 0) and 1 or repeat_n
  items[i] = string.format("%q", string.rep(texts[(i - 1) % #texts + 1] .. " ", n))
end
local body
if batch == 1 then body = '{"inputs": ' .. items[1] .. '}' else body = '{"inputs": [' .. table.concat(items, ",") .. ']}' end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

local errors = 0
response = function(status, headers, b)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("repeat=%d%s batch=%d requests/s=%.1f sequences/s=%.1f p50=%.1fms p99=%.1fms non200=%d\n",
    repeat_n, mixed and "(mixed)" or "", batch, summary.requests / (summary.duration / 1e6), batch * summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
