import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { HfTokenizer } from './hf-tokenizer.js';
import { loadModelDir, MODEL_FILE } from './model-manifest.js';

const { onnx } = onnxProto;

/** Graphs larger than this hold their weights inline; decoding them only to list inputs is not worth it. */
const MAX_DECODED_BYTES = 256 * 1024 * 1024;

export interface ExternalDataFile {
  file: string;
  present: boolean;
  bytes: number | null;
  /** Bytes the graph's tensors reach into the file (offset + length); more than `bytes` means a truncated copy. */
  needed_bytes: number;
}

export interface ModelDirReport {
  dir: string;
  ok: boolean;
  /** Each problem in a sentence that says what to do. */
  problems: string[];
  manifest: { id: string | null; dims: number; max_tokens: number; query_instruction: string; inputs: Record<string, string>; output: string; add_bos: boolean; add_eos: boolean } | null;
  tokenizer: { vocab_size: number; bos_token_id: number | null; eos_token_id: number | null; config: boolean } | null;
  model_bytes: number | null;
  external_data: ExternalDataFile[];
  /** reference.json (PyTorch vectors written by the export recipe) is there for `doctor --verify`. */
  reference: boolean;
}

/** Checks a model directory without creating a session: manifest, tokenizer, graph inputs, external data files. */
export function inspectModelDir(dir: string): ModelDirReport {
  const report: ModelDirReport = { dir, ok: false, problems: [], manifest: null, tokenizer: null, model_bytes: null, external_data: [], reference: false };
  let modelDir;
  try {
    modelDir = loadModelDir(dir);
  } catch (err) {
    report.problems.push((err as Error).message);
    return report;
  }
  const m = modelDir.manifest;
  report.dir = modelDir.dir;
  report.reference = existsSync(join(modelDir.dir, 'reference.json'));
  report.manifest = {
    id: m.id ?? null,
    dims: m.dims,
    max_tokens: m.max_tokens,
    query_instruction: m.query_instruction,
    inputs: Object.fromEntries(Object.entries(m.inputs).filter((e): e is [string, string] => typeof e[1] === 'string')),
    output: m.output,
    add_bos: m.add_bos,
    add_eos: m.add_eos,
  };
  try {
    const tokenizer = HfTokenizer.fromFiles(modelDir.tokenizerPath, modelDir.tokenizerConfigPath);
    report.tokenizer = {
      vocab_size: tokenizer.vocabSize,
      bos_token_id: tokenizer.bosTokenId ?? null,
      eos_token_id: tokenizer.eosTokenId ?? null,
      config: modelDir.tokenizerConfigPath !== undefined,
    };
  } catch (err) {
    report.problems.push((err as Error).message);
  }
  report.model_bytes = statSync(modelDir.modelPath).size;
  if (report.model_bytes <= MAX_DECODED_BYTES) inspectGraph(modelDir.dir, report);
  report.ok = report.problems.length === 0;
  return report;
}

function inspectGraph(dir: string, report: ModelDirReport): void {
  const path = join(dir, MODEL_FILE);
  let model;
  try {
    model = onnx.ModelProto.decode(readFileSync(path));
  } catch (err) {
    report.problems.push(`${path} is not a readable ONNX model (${(err as Error).message}); export or copy it again.`);
    return;
  }
  const graph = model.graph;
  const initializers = graph?.initializer ?? [];
  const initializerNames = new Set(initializers.map((t) => t.name));
  const inputs = new Set((graph?.input ?? []).map((i) => i.name).filter((n) => !initializerNames.has(n)));
  const outputs = new Set((graph?.output ?? []).map((o) => o.name));
  for (const [role, name] of Object.entries(report.manifest!.inputs)) {
    if (!inputs.has(name)) report.problems.push(`codecarto.json names input ${role} "${name}", but the graph's inputs are ${[...inputs].join(', ')}; fix "inputs" in codecarto.json.`);
  }
  if (!outputs.has(report.manifest!.output)) {
    report.problems.push(`codecarto.json names output "${report.manifest!.output}", but the graph's outputs are ${[...outputs].join(', ')}; fix "output" in codecarto.json.`);
  }
  const needed = new Map<string, number>();
  for (const tensor of initializers) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entry = Object.fromEntries((tensor.externalData ?? []).map((kv) => [kv.key, kv.value]));
    if (!entry.location) continue;
    const end = Number(entry.offset ?? 0) + Number(entry.length ?? 0);
    needed.set(entry.location, Math.max(needed.get(entry.location) ?? 0, end));
  }
  for (const [file, neededBytes] of needed) {
    const full = join(dir, file);
    const present = existsSync(full);
    const bytes = present ? statSync(full).size : null;
    report.external_data.push({ file, present, bytes, needed_bytes: neededBytes });
    if (!present) report.problems.push(`The weights file ${file} that model.onnx refers to is missing from ${dir}; copy it next to model.onnx.`);
    else if (bytes! < neededBytes) report.problems.push(`${file} has ${bytes} bytes but the graph needs ${neededBytes}: the copy is truncated; copy it again.`);
  }
}
