// Batch shapes for scripts/gpu-batch-plans.py, from an index codecarto built: the distinct chunk texts in
// walk order, counted with the Mistral tokenizer (+2 for BOS/EOS), cut (a) by codecarto's planner (the
// whole-repository plan; the streaming plan pads ~3% more) and (b) into fixed batches of 48 in walk order.
//   npm run build && node scripts/export-batch-plans.mjs <data dir>/index.db <name> plans.json
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { planBatches, fixedBatches, padFactor } from '../dist/indexer/run/batch-planner.js';
import { loadMistralTokenizer } from '../dist/models/hf-tokenizer.js';
const db = new Database(process.argv[2], { readonly: true });
const rows = db.prepare('SELECT t.hash AS h, t.embed_text AS e FROM chunks c JOIN texts t ON t.hash = c.text_hash ORDER BY c.id').all();
const seen = new Set(); const items = [];
const tok = loadMistralTokenizer();
for (const r of rows) { if (seen.has(r.h)) continue; seen.add(r.h); items.push({ key: r.h, tokens: Math.min(tok.count(r.e) + 2, 4096) }); }
const plan = planBatches(items, { maxTexts: 48, tokenBudget: 48 * 512 });
const fixed = fixedBatches(items, 48);
const shape = (bs) => bs.map((b) => b.items.map((i) => i.tokens));
console.log(items.length, 'texts', items.reduce((a, i) => a + i.tokens, 0), 'tokens; pad plan', padFactor(plan).toFixed(3), 'fixed48', padFactor(fixed).toFixed(3), 'batches', plan.length, fixed.length);
writeFileSync(process.argv[4] ?? 'plans.json', JSON.stringify({ repo: process.argv[3] ?? 'repo', texts: items.length, planner: shape(plan), fixed48: shape(fixed) }));
