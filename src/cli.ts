#!/usr/bin/env node
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { mcpConfig } from './config.js';
import { logToStderr } from './logger.js';
import { MODELS_USAGE, modelsListCommand, modelsPullCommand } from './models-cli.js';
import { VERSION } from './version.js';
import { StdioLineTransport } from './stdio-line-transport.js';

const USAGE = `codecarto ${VERSION}: semantic code search for LLM agents (MCP)

Usage:
  codecarto [mcp] [--project <path>] [--provider ...]  serve MCP on stdio (the default); takes every set_project
      setting as a flag (--provider --dgx-endpoint --batch-size --model --device --base-url --api-key-env) and as
      CODECARTO_<NAME> (CODECARTO_DGX_ENDPOINT, ...; flags win): the settings of --project, the defaults of set_project.
      A bad setting never stops it: every tool answer and status say what to fix.
      --allow-key-env <VAR> / --allow-endpoint <url> (repeatable; CODECARTO_ALLOWED_KEY_ENVS, CODECARTO_ALLOWED_ENDPOINTS):
      the key variables an agent may name in set_project and the endpoints a key may go to (README: Security).
      --max-files <n> (CODECARTO_MAX_FILES): refuse trees with more files (default 200000).
  codecarto index [<path>] [options]      index a repository (progress on stderr)
      --provider dgx|onnx|openai|none  --dgx-endpoint <url>  --batch-size <n>
      --model <dir|name>  --base-url <url>  --api-key-env <VAR>  --device cuda|cpu|auto  --max-files <n>  --full  --json
  codecarto search "<query>" [--k <n>] [--detail lines|locations|full] [--max-tokens <n>] [--path-glob <glob>] [--language <lang>] [--mode hybrid|semantic|lexical] [--refresh] [--json]
  codecarto status [--json]
  codecarto symbol <name> [--kind <kind>] [--path-glob <glob>] [--near <file>] [--body] [--json]  where a symbol is defined (Flask.url_for, Builder::build)
  codecarto refs <name> [--path-glob <glob>] [--json]  where it is used: calls, imports and other uses, by file
  codecarto outline [<path>] [--json]     a file's symbols as a tree, or a directory's top-level symbols
      index, search, status, symbol, refs, outline and eval work on --project <path>, else on the indexed project that holds the
      current directory, else on the last one set; they name it on stderr (and as "project" with --json)
  codecarto models make-test-model <dir>  write a small ONNX model with NV-Embed-v2's interface
${MODELS_USAGE}
  codecarto embed-server --model <dir> [--port 8080] [--host 127.0.0.1] [--device auto|cuda|cpu] [--token-budget <n>] [--max-batch <n>] [--auth-token-env <VAR>]  serve /embed and /v1/embeddings over HTTP
  codecarto eval [<path>] [--provider ...] [--modes grep,lexical,semantic,hybrid] [--queries <n>] [--k <n>] [--json]  measure search quality on the repository's git history
  codecarto doctor [--json] [--model <dir>] [--verify] [--device auto|cuda|cpu] [--dgx-endpoint <url>] [--api-key-env VAR]  check onnxruntime, CUDA, GPU, model, endpoint
  codecarto install-ort <onnxruntime build dir> [--force]  install a CUDA build of onnxruntime (DGX Spark: docs/gb10.md)

Environment: CODECARTO_HOME (data, default ~/.local/share/codecarto), CODECARTO_PROJECT, CODECARTO_PROVIDER and the other settings above,
  CODECARTO_WATCH (0/false/off: never re-index in the background; poll: stat scans instead of file events),
  CODECARTO_EMBED_TIMEOUT_MS (longest wait for an embedding request's answer, default 60000),
  CODECARTO_QUERY_TIMEOUT_MS (longest wait for a search's query vector before it answers lexically, default 2000), CODECARTO_INDEX_WORKERS.`;

async function main(argv: string[]): Promise<number> {
  const [command = 'mcp', ...rest] = argv;
  switch (command) {
    case 'mcp':
      return serveMcp(rest);
    case 'index':
      return (await import('./index-command.js')).indexCommand(rest);
    case 'symbol':
      return (await import('./symbol-command.js')).symbolCommand(rest);
    case 'refs':
      return (await import('./refs-command.js')).refsCommand(rest);
    case 'outline':
      return (await import('./outline-command.js')).outlineCommand(rest);
    case 'search':
      return (await import('./search-command.js')).searchCommand(rest);
    case 'status':
      return (await import('./status-command.js')).statusCommand(rest);
    case 'models':
      return modelsCommand(rest);
    case 'embed-server':
      return (await import('./embed-server/embed-server.js')).embedServerCommand(rest);
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

/**
 * Serves MCP on stdio until the client closes stdin (exit 0) or the connection breaks (exit 1, so the client
 * restarts it). Configuration problems do not stop it: createServer reports them in every answer.
 */
async function serveMcp(args: string[]): Promise<number> {
  const config = mcpConfig(args, process.env);
  // Loaded here: the other subcommands (and --version) need none of the tools.
  const { createServer } = await import('./server.js');
  const { server, close } = await createServer({ config });
  const transport = new StdioLineTransport();
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    await close().catch((error: unknown) => logToStderr(`shutdown: ${(error as Error).message}`));
    process.exit(code);
  };
  // Set before connect: the SDK chains its own handler after this one.
  transport.onclose = () => {
    if (transport.failure === undefined) return void shutdown(0);
    logToStderr(
      `the MCP connection broke: ${transport.failure}. Exiting with status 1 so that the client can start a new server; ` +
        'if it happens again, check what the client writes to stdin (one JSON-RPC message per line, each under 10 MiB).',
    );
    void shutdown(1);
  };
  server.server.onerror = (error) => logToStderr(`protocol: ${error.message}`);
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  await server.connect(transport);
  logToStderr(`MCP server ready on stdio (data in ${config.home})`);
  return new Promise<number>(() => {});
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
