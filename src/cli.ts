#!/usr/bin/env node
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { parseArgs } from 'node:util';
import type { IndexSummary } from '../indexer/index-summary.js';
import type { Workspace } from '../indexer/workspace.js';
import { CodecartoError } from '../models/errors.js';
import { formatSummary } from '../tools/index-project.js';
import { formatProjectState } from '../tools/project-state-format.js';
import { formatResults } from '../tools/search-code.js';
import { loadConfig } from './config.js';
import { absoluteProjectPath, PROVIDER_OPTIONS, settingsFromFlags } from './provider-options.js';
import { logToStderr } from './logger.js';
import { MODELS_USAGE, modelsListCommand, modelsPullCommand } from './models-cli.js';
import { createServer, VERSION } from './server.js';

const USAGE = `codecarto ${VERSION}: semantic code search for LLM agents (MCP)

Usage:
  codecarto [mcp] [--project <path>]      serve MCP on stdio (the default)
  codecarto index <path> [options]        index a repository (progress on stderr)
      --provider dgx|onnx|openai|none  --dgx-endpoint <url>  --batch-size <n>
      --model <dir|name>  --base-url <url>  --api-key-env <VAR>  --device cuda|cpu|auto  --full
  codecarto search "<query>" [--k <n>] [--path-glob <glob>] [--language <lang>] [--mode hybrid|semantic|lexical] [--json]
  codecarto status [--json]
  codecarto models make-test-model <dir>  write a small ONNX model with NV-Embed-v2's interface
${MODELS_USAGE}
  codecarto embed-server --model <dir> [--port 8080] [--host 127.0.0.1] [--device auto|cuda|cpu] [--token-budget <n>] [--max-batch <n>] [--auth-token-env <VAR>]  serve /embed and /v1/embeddings over HTTP
  codecarto eval [<path>] [--provider ...] [--modes grep,lexical,semantic,hybrid] [--queries <n>] [--k <n>] [--json]  measure search quality on the repository's git history
  codecarto doctor [--json] [--model <dir>] [--verify] [--device auto|cuda|cpu] [--dgx-endpoint <url>] [--api-key-env VAR]  check onnxruntime, CUDA, GPU, model, endpoint
  codecarto install-ort <onnxruntime build dir> [--force]  install a CUDA build of onnxruntime (DGX Spark: docs/gb10.md)

Environment: CODECARTO_HOME (data, default ~/.local/share/codecarto), CODECARTO_PROVIDER, CODECARTO_PROJECT,
  CODECARTO_WATCH (0/false/off: never re-index in the background; poll: stat scans instead of file events).`;

async function main(argv: string[]): Promise<number> {
  const [command = 'mcp', ...rest] = argv;
  switch (command) {
    case 'mcp':
      return serveMcp(rest);
    case 'index':
      return indexCommand(rest);
    case 'search':
      return searchCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'models':
      return modelsCommand(rest);
    case 'embed-server':
      return (await import('./embed-server.js')).embedServerCommand(rest);
    case 'eval':
      return (await import('./eval-command.js')).evalCommand(rest);
    case 'doctor':
      return (await import('./doctor.js')).doctorCommand(rest);
    case 'install-ort':
      return (await import('./install-ort-command.js')).installOrtCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      if (command.startsWith('--')) return serveMcp(argv);
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      return 2;
  }
}

async function serveMcp(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { project: { type: 'string' } } });
  const config = loadConfig(process.env, { project: values.project });
  const { server, close } = await createServer({ config });
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await close().catch((error: unknown) => logToStderr(`shutdown: ${(error as Error).message}`));
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.stdin.on('end', shutdown);
  await server.connect(transport);
  logToStderr(`MCP server ready on stdio (data in ${config.home})`);
  return new Promise<number>(() => {});
}

/** Runs `fn` on a workspace opened for the command line, closing it afterwards. */
async function withWorkspace<T>(fn: (workspace: Workspace) => Promise<T>): Promise<T> {
  // A one-shot command exits when done: watching the tree would only cost a scan.
  const { workspace } = await createServer({ config: { ...loadConfig(), watch: 'off' } });
  try {
    return await fn(workspace);
  } finally {
    await workspace.close();
  }
}

async function indexCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...PROVIDER_OPTIONS, full: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const path = positionals[0];
  if (!path) throw new CodecartoError('Usage: codecarto index <path> [--provider ...]');
  const settings = settingsFromFlags(values);
  return withWorkspace(async (workspace) => {
    const state = await workspace.setProject(absoluteProjectPath(path), settings);
    process.stderr.write(`${formatProjectState(state)}\n`);
    const job = await workspace.startIndex({ full: values.full });
    const bar = process.stderr.isTTY ? progressBar() : null;
    const unsubscribe = job.onProgress((s) => bar?.(s));
    const cancel = () => job.cancel();
    process.once('SIGINT', cancel);
    const summary = await job.done;
    unsubscribe();
    process.off('SIGINT', cancel);
    if (bar) process.stderr.write('\n');
    process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
    return summary.state === 'done' ? 0 : 1;
  });
}

function progressBar(): (s: Readonly<IndexSummary>) => void {
  let last = 0;
  return (s) => {
    const now = Date.now();
    if (now - last < 100 && s.state === 'running') return;
    last = now;
    const total = s.chunks_embedded + s.chunks_pending;
    const fraction = total > 0 ? s.chunks_embedded / total : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    process.stderr.write(
      `\r${bar} ${s.files_scanned} files, ${s.chunks_embedded}/${total} chunks embedded, ${s.seconds.toFixed(0)} s   `,
    );
  };
}

async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      k: { type: 'string' },
      'path-glob': { type: 'string', multiple: true },
      language: { type: 'string', multiple: true },
      mode: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const query = positionals.join(' ').trim();
  if (!query) throw new CodecartoError('Usage: codecarto search "<query>" [--k 10]');
  const mode = values.mode as 'hybrid' | 'semantic' | 'lexical' | undefined;
  if (mode && !['hybrid', 'semantic', 'lexical'].includes(mode)) throw new CodecartoError('--mode must be hybrid, semantic or lexical.');
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new CodecartoError('--k must be a whole number from 1 to 100.');
  return withWorkspace(async (workspace) => {
    const response = await workspace.search({ query, k, pathGlob: values['path-glob'], language: values.language, mode });
    process.stdout.write(
      values.json ? `${JSON.stringify(response)}\n` : `${formatResults(query, response.results, response.mode, response.partial, response.note)}\n`,
    );
    return 0;
  });
}

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  return withWorkspace(async (workspace) => {
    const { open, state } = await workspace.status();
    const health = await open.embedder.health(AbortSignal.timeout(10_000));
    if (values.json) process.stdout.write(`${JSON.stringify({ ...state, health })}\n`);
    else process.stdout.write(`${formatProjectState(state)}\nProvider health: ${health.ok ? 'ok' : 'PROBLEM'}: ${health.detail}\n`);
    return 0;
  });
}

async function modelsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'make-test-model') {
    const dir = rest[0];
    if (!dir) throw new CodecartoError('Usage: codecarto models make-test-model <dir>');
    const { makeTestModel } = await import('../models/test-model.js');
    await makeTestModel(dir);
    process.stdout.write(`Wrote a test model with NV-Embed-v2's interface to ${dir} (model.onnx, tokenizer.json, codecarto.json).\n`);
    return 0;
  }
  if (sub === 'pull') return modelsPullCommand(rest);
  if (sub === 'list') return modelsListCommand(rest);
  process.stderr.write(`Unknown models command "${sub ?? ''}". Available: pull <name|owner/repo>, list, make-test-model <dir>.\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`codecarto: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
