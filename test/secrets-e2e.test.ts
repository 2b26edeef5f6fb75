import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIndex } from '../indexer/run/run-index.js';
import { SECRET_RULES_VERSION } from '../indexer/prepare/secrets/secret-scanner.js';
import { openIndexStore } from '../indexer/store/sqlite-index-store.js';
import { NoneEmbedder } from '../models/none-embedder.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { dockerConfigJson, fake, gcpServiceAccountJson, kubeconfigYaml, pemBody, randomFrom } from './helpers/fake-secrets.js';
import { connectInProcess, type InProcessSession, type Structured } from './helpers/in-process.js';
import { tempDir } from './helpers/stdio-client.js';

/**
 * Issue 16.2: secrets were recognised by file name only, so an adversarial sweep found private keys in
 * config.txt, service-account JSON, registry tokens, kubeconfig credentials... indexed, returned by
 * search and sent to the embedding endpoint. Here a repository holding generated fake secrets of each
 * kind is indexed through the MCP server against a real HTTP embedding server on 127.0.0.1, and no
 * secret may reach a request body, the index's files on disk, its FTS table or a search answer.
 */

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** Every file under `dir`, read as bytes: the SQLite file, its WAL, the HNSW file, settings. */
function allBytes(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ path: join(e.parentPath, e.name), text: readFileSync(join(e.parentPath, e.name)).toString('latin1') }));
}

/** The longest alphanumeric run of a secret: the word FTS would index it under. */
function ftsWord(secret: string): string {
  return (secret.match(/[A-Za-z0-9]+/g) ?? []).reduce((a, b) => (b.length > a.length ? b : a), '');
}

describe('secrets in file contents never reach the store, the embedder or a search answer', () => {
  let server: FakeEmbeddingServer;
  let session: InProcessSession;
  let home: string;
  let repo: string;
  let summary: Structured;
  let summaryText: string;
  /** Each secret, by where it was planted. */
  const secrets: Record<string, string[]> = {};
  const fileSkipped = ['config.txt', 'src/key_material.py', 'deploy/gcp-prod.json', '.docker/config.json', 'kubeconfig.yaml'];
  const chunkLevel = ['.yarnrc.yml', '.streamlit/secrets.toml', 'credentials.yml', 'token.txt', 'env.sh', 'src/billing.py', 'src/notify.ts', 'src/azure_store.py'];

  beforeAll(async () => {
    repo = tempDir('secrets-repo');
    home = tempDir('secrets-home');
    const rsa = fake.rsaPrivateKeyPem();
    const ec = fake.ecPrivateKeyPem();
    const gcpKey = fake.rsaPkcs1Pem();
    const gcpKeyId = randomFrom('0123456789abcdef', 40);
    const registryAuth = Buffer.from(`ci-bot:${fake.highEntropy()}`).toString('base64');
    const kubeKey = Buffer.from(fake.rsaPkcs1Pem()).toString('base64');
    const npm = fake.npmToken();
    const password = fake.password();
    const [awsId, awsKey] = [fake.awsAccessKeyId(), fake.awsSecretAccessKey()];
    const [github, github2, envAws] = [fake.githubPat(), fake.githubPat(), fake.awsSecretAccessKey()];
    const [stripe, slack, azureSecret, azureKey, dotenvToken] = [fake.stripeLiveKey(), fake.slackBotToken(), fake.azureClientSecret(), fake.azureStorageKey(), fake.githubPat()];

    write(repo, 'config.txt', `# service settings\nlisten = 0.0.0.0:8443\ntls_key =\n${rsa}\n`);
    secrets['config.txt'] = pemBody(rsa);
    write(repo, 'src/key_material.py', `"""Signing key used by the release job."""\n\nSIGNING_KEY = """\n${ec}"""\n\n\ndef signing_key() -> str:\n    return SIGNING_KEY\n`);
    secrets['src/key_material.py'] = pemBody(ec);
    write(repo, 'deploy/gcp-prod.json', gcpServiceAccountJson(gcpKey, gcpKeyId));
    secrets['deploy/gcp-prod.json'] = [gcpKeyId, ...pemBody(gcpKey)];
    write(repo, '.docker/config.json', dockerConfigJson(registryAuth));
    secrets['.docker/config.json'] = [registryAuth];
    write(repo, 'kubeconfig.yaml', kubeconfigYaml({ clientKeyData: kubeKey }));
    secrets['kubeconfig.yaml'] = [kubeKey.slice(0, 64), kubeKey.slice(-64)];

    write(repo, '.yarnrc.yml', `nodeLinker: node-modules\nnpmRegistryServer: "https://npm.example.com"\nnpmAuthToken: "${npm}"\n`);
    secrets['.yarnrc.yml'] = [npm];
    write(repo, '.streamlit/secrets.toml', `[database]\nhost = "db.internal"\nuser = "app"\npassword = "${password}"\n`);
    secrets['.streamlit/secrets.toml'] = [password];
    write(repo, 'credentials.yml', `production:\n  aws_access_key_id: ${awsId}\n  aws_secret_access_key: ${awsKey}\n  region: eu-central-1\n`);
    secrets['credentials.yml'] = [awsId, awsKey];
    write(repo, 'token.txt', `${github}\n`);
    secrets['token.txt'] = [github];
    write(repo, 'env.sh', `#!/bin/sh\nexport GITHUB_TOKEN=${github2}\nexport AWS_SECRET_ACCESS_KEY=${envAws}\nexport AWS_REGION=eu-central-1\n`);
    secrets['env.sh'] = [github2, envAws];
    // A long source file with one leaked key: only the chunk around it goes.
    const handlers = Array.from({ length: 30 }, (_, i) => `def invoice_handler_${i}(event):\n    amount = event["amount"] * ${i + 1}\n    return {"status": "ok", "amount": amount}\n`);
    handlers.splice(15, 0, `def charge_card(card, amount):\n    stripe_key = "${stripe}"\n    return post_charge(stripe_key, card, amount)\n`);
    write(repo, 'src/billing.py', handlers.join('\n'));
    secrets['src/billing.py'] = [stripe];
    write(repo, 'src/notify.ts', `export async function notifyRelease(text: string) {\n  const slackToken = '${slack}';\n  return postMessage(slackToken, '#releases', text);\n}\n`);
    secrets['src/notify.ts'] = [slack];
    write(repo, 'src/azure_store.py', `AZURE_CLIENT_SECRET = "${azureSecret}"\nCONN = "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=${azureKey};EndpointSuffix=core.windows.net"\n`);
    secrets['src/azure_store.py'] = [azureSecret, azureKey];
    // Skipped by name before it is ever opened (the rule that existed before).
    write(repo, '.env', `GITHUB_TOKEN=${dotenvToken}\n`);
    secrets['.env'] = [dotenvToken];

    // Ordinary code that names passwords and tokens without holding any: it must be indexed in full.
    write(repo, 'src/settings.py', `import os\n\npassword = os.environ["PASSWORD"]\ntoken = get_token()\nsecret_name = "prod-db-credentials"\n\ndef connection_settings():\n    return {"user": "app", "password": password}\n`);
    write(repo, 'tests/fixtures.py', `API_KEY = "xxxxxxxxxxxxxxxxxxxxxxxx"\nPASSWORD = "changeme"\nTOKEN = "\${GITHUB_TOKEN}"\n\ndef fixture_client():\n    return Client(API_KEY, PASSWORD)\n`);
    write(repo, 'package.json', JSON.stringify({ name: 'demo', version: '1.0.0', dependencies: { left: '1.0.0' } }, null, 2));

    server = await FakeEmbeddingServer.start({ dims: 64 });
    session = await connectInProcess({ home, watch: 'off' });
    const set = await session.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: server.endpoint, batch_size: 16 });
    expect(set.isError, set.content[0].text).toBeFalsy();
    const result = await session.call('index', { wait_seconds: 120 });
    expect(result.isError, result.content[0].text).toBeFalsy();
    summary = result.structuredContent;
    summaryText = result.content[0].text;
    expect(summary.state).toBe('done');
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    await server?.close();
  });

  const everySecret = () => Object.entries(secrets).flatMap(([path, values]) => values.map((value) => ({ path, value })));

  it('counts whole files as files_skipped.secret and dropped chunks as chunks_skipped_secret, and names the files', () => {
    // Five by content, .env by name.
    expect(summary.files_skipped.secret).toBe(fileSkipped.length + 1);
    expect(summary.chunks_skipped_secret).toBeGreaterThanOrEqual(chunkLevel.length);
    expect([...summary.secret_files].sort()).toEqual([...fileSkipped, ...chunkLevel].sort());
    expect(summaryText).toMatch(/Secrets: 6 files skipped as secret \(name or content\), \d+ chunks holding a token or password left out/);
  });

  it('sends no secret to the embedding endpoint', () => {
    const sent = server.requests.flatMap((r) => r.texts);
    expect(sent.length).toBeGreaterThan(5);
    for (const { path, value } of everySecret()) {
      expect(sent.filter((t) => t.includes(value)).length, `${path}: a request body held its secret`).toBe(0);
    }
  });

  it('stores no secret: not in any file of the index (SQLite, WAL, HNSW), not in the FTS table', () => {
    const files = allBytes(home);
    expect(files.some((f) => f.path.endsWith('index.db'))).toBe(true);
    for (const { path, value } of everySecret()) {
      for (const file of files) expect(file.text.includes(value), `${path}'s secret is in ${file.path}`).toBe(false);
    }
    const projects = join(home, 'projects');
    const [dir] = readdirSync(projects).filter((d) => readdirSync(join(projects, d)).includes('index.db'));
    const db = new Database(join(projects, dir, 'index.db'), { readonly: true });
    try {
      for (const { path, value } of everySecret()) {
        const word = ftsWord(value);
        const hits = db.prepare('SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?').pluck().get(`"${word}"`) as number;
        expect(hits, `${path}: FTS finds "${word.slice(0, 6)}..."`).toBe(0);
        const texts = db.prepare('SELECT count(*) FROM texts WHERE instr(text, ?) > 0').pluck().get(value) as number;
        expect(texts, `${path}: a stored chunk text holds its secret`).toBe(0);
      }
      // Files left out whole have no row at all.
      const stored = db.prepare('SELECT path FROM files').pluck().all() as string[];
      for (const path of fileSkipped) expect(stored).not.toContain(path);
    } finally {
      db.close();
    }
  });

  it('no search answer holds a secret, in any mode, even when the query is the secret itself', async () => {
    // Words that sat next to the secrets: a search for them must find the code around, never the secret.
    const nearby = ['tls_key listen', 'SIGNING_KEY signing_key', 'private_key_id service_account', 'auths registry', 'client-key-data users', 'npmAuthToken', 'password database', 'aws_secret_access_key', 'GITHUB_TOKEN export', 'charge_card stripe_key', 'slackToken notifyRelease', 'AccountKey AZURE_CLIENT_SECRET'];
    const values = everySecret();
    for (const mode of ['lexical', 'hybrid', 'semantic'] as const) {
      for (const query of nearby) {
        const answer = JSON.stringify(await session.call('search', { query, mode, k: 20 }));
        for (const { path, value } of values) expect(answer.includes(value), `${path}: ${mode} search for "${query}" answered with its secret`).toBe(false);
      }
      // The query itself is echoed in the answer's text; the hits must not hold it.
      for (const { path, value } of values) {
        for (const query of [value, ftsWord(value)]) {
          const result = await session.call('search', { query, mode, k: 20 });
          expect(JSON.stringify(result.structuredContent.results).includes(value), `${path}: ${mode} search for its secret found it`).toBe(false);
        }
      }
    }
  }, 120_000);

  it('keeps the rest of a file whose only leak is one chunk, and ordinary code that names passwords', async () => {
    const billing = await session.call('search', { query: 'invoice_handler_29', mode: 'lexical' });
    expect(billing.structuredContent.results.map((r: Structured) => r.path)).toContain('src/billing.py');
    const settings = await session.call('search', { query: 'connection_settings', mode: 'lexical' });
    expect(settings.structuredContent.results.map((r: Structured) => r.path)).toContain('src/settings.py');
    const fixtures = await session.call('search', { query: 'fixture_client', mode: 'lexical' });
    expect(fixtures.structuredContent.results.map((r: Structured) => r.path)).toContain('tests/fixtures.py');
    expect(summary.secret_files).not.toContain('src/settings.py');
    expect(summary.secret_files).not.toContain('tests/fixtures.py');
    expect(summary.secret_files).not.toContain('package.json');
  });
});

describe('an index made before content scanning is scanned again once', () => {
  it('drops a secret chunk stored by an older version, without re-reading files again on the next run', async () => {
    const repo = tempDir('secrets-upgrade-repo');
    const token = fake.githubPat();
    write(repo, 'deploy.sh', `#!/bin/sh\nexport GITHUB_TOKEN=${token}\n`);
    write(repo, 'main.py', 'def main():\n    return 1\n');
    const store = openIndexStore(tempDir('secrets-upgrade-data'));
    try {
      // What an older codecarto stored: the file, unchanged since, with the token in its only chunk.
      const text = readFileSync(join(repo, 'deploy.sh'), 'utf8');
      const info = statSync(join(repo, 'deploy.sh'));
      const textHash = createHash('sha256').update(text).digest('hex');
      store.upsertFile(
        { path: 'deploy.sh', size: info.size, mtimeMs: info.mtimeMs, hash: createHash('sha256').update(text).digest('hex'), language: 'shell' },
        [{ language: 'shell', symbol: null, kind: 'lines', startLine: 1, endLine: 2, text, textHash, embedText: `deploy.sh\n${text}` }],
      );
      expect(store.getChunks(store.lexicalSearch(ftsWord(token), 5).map((h) => h.chunkId)).length).toBe(1);

      const logs: string[] = [];
      const first = await runIndex({ root: repo, store, embedder: new NoneEmbedder(), prepareWorkers: 0, log: (l) => logs.push(l) });
      expect(first.state).toBe('done');
      expect(logs.some((l) => l.includes('scanning every file for secrets again'))).toBe(true);
      expect(store.lexicalSearch(ftsWord(token), 5)).toEqual([]);
      expect(first.chunks_skipped_secret).toBe(1);
      expect(first.secret_files).toEqual(['deploy.sh']);
      expect(first.files_changed).toBe(0);
      expect(store.getMeta('secret_rules')).toBe(SECRET_RULES_VERSION);

      const again: string[] = [];
      const second = await runIndex({ root: repo, store, embedder: new NoneEmbedder(), prepareWorkers: 0, log: (l) => again.push(l) });
      expect(second.files_added + second.files_changed).toBe(0);
      expect(again.some((l) => l.includes('scanning every file for secrets again'))).toBe(false);
    } finally {
      store.close();
    }
  });
});
