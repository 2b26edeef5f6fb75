/**
 * Issue 16.1: an API key leaves the server only from a variable, and only to an endpoint, that the person
 * who started the server allowed. Before the fix, set_project(api_key_env: ANY_VAR, dgx_endpoint: any URL)
 * sent that variable's value as `Authorization: Bearer` on the next status/index, and an unset variable
 * answered differently from a set one, so an agent could probe which variables exist.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CredentialPolicy } from '../models/credential-policy.js';
import { loadConfig, mcpConfig, trustingFlags, type Config } from '../src/config.js';
import { FakeEmbeddingServer } from './helpers/fake-embedding-server.js';
import { connectInProcess, type InProcessSession } from './helpers/in-process.js';
import { cliPath, tempDir } from './helpers/stdio-client.js';

const SECRET = 'sk-test-do-not-leak-0123456789';
// Names no other test uses; each test sets or deletes them itself.
const FOREIGN_VAR = 'ELSEWHERE_TEST_FOREIGN_SECRET';
const OWN_VAR = 'CODECARTO_TEST_POLICY_KEY';

function makeRepo(): string {
  const repo = join(tempDir('keys'), 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'src', 'retry.ts'), 'export async function retryWithBackoff(fn: () => Promise<void>) {\n  return fn();\n}\n');
  return repo;
}

const servers: FakeEmbeddingServer[] = [];
const sessions: InProcessSession[] = [];
async function fakeServer(): Promise<FakeEmbeddingServer> {
  const server = await FakeEmbeddingServer.start({ dims: 16 });
  servers.push(server);
  return server;
}
async function connect(config: Partial<Config> = {}): Promise<InProcessSession> {
  const session = await connectInProcess({ home: tempDir('keys-home'), ...config });
  sessions.push(session);
  return session;
}
afterEach(async () => {
  for (const session of sessions.splice(0)) await session.close();
  delete process.env[FOREIGN_VAR];
  delete process.env[OWN_VAR];
});
afterAll(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const authorizations = (server: FakeEmbeddingServer) => server.requests.map((r) => r.authorization);

/** Runs the built CLI (`npm test` builds first) without blocking this process's fake servers. */
function codecarto(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CODECARTO_HOME: tempDir('cli-home'), ...env };
  delete childEnv.CODECARTO_PROVIDER;
  delete childEnv.CODECARTO_PROJECT;
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: childEnv, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('set_project api_key_env (issue 16.1)', () => {
  it('refuses a variable the server does not allow with one message, set or unset, and sends no key', async () => {
    const fake = await fakeServer();
    const repo = makeRepo();
    // The endpoint is even allowed: the variable alone decides here.
    const { call } = await connect({ allowedEndpoints: [fake.url] });
    const args = { path: repo, provider: 'dgx', dgx_endpoint: fake.endpoint, api_key_env: FOREIGN_VAR };

    delete process.env[FOREIGN_VAR];
    const unset = await call('set_project', args);
    process.env[FOREIGN_VAR] = SECRET;
    const set = await call('set_project', args);

    expect(unset.isError).toBe(true);
    expect(set.isError).toBe(true);
    expect(set.content[0].text).toBe(unset.content[0].text);
    expect(set.content[0].text).toMatch(/CODECARTO_ALLOWED_KEY_ENVS/);
    expect(set.content[0].text).not.toMatch(/not set|exists|empty/i);

    // The seed call without a key still works against the same endpoint, and no key ever left.
    const seed = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: fake.endpoint, batch_size: 48 });
    expect(seed.isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    await call('status');
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(authorizations(fake).every((a) => a === undefined)).toBe(true);
  });

  it('refuses an allowed variable going to an endpoint the server did not name, even through saved settings', async () => {
    const trusted = await fakeServer();
    const hostile = await fakeServer();
    const repo = makeRepo();
    process.env[OWN_VAR] = SECRET;
    const { call } = await connect({ allowedEndpoints: [trusted.endpoint] });

    // Allowed variable (CODECARTO_* by default) to an allowed endpoint: the key is sent there.
    const ok = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: trusted.endpoint, api_key_env: OWN_VAR });
    expect(ok.isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect(authorizations(trusted)).toContain(`Bearer ${SECRET}`);

    // Only the endpoint changes: the saved api_key_env would go with it.
    const moved = await call('set_project', { path: repo, dgx_endpoint: hostile.endpoint });
    expect(moved.isError).toBe(true);
    expect(moved.content[0].text).toMatch(/refused/);
    // User info that names the trusted host still goes to the hostile one (WHATWG URL parsing).
    const trick = hostile.endpoint.replace('http://', `http://${new URL(trusted.url).host}@`);
    const tricked = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: trick, api_key_env: OWN_VAR });
    expect(tricked.isError).toBe(true);
    // A longer path on the trusted origin is not the trusted endpoint either.
    const sibling = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: `${trusted.endpoint}ded`, api_key_env: OWN_VAR });
    expect(sibling.isError).toBe(true);

    await call('status');
    await call('search', { query: 'retry with backoff' });
    expect(hostile.requests).toEqual([]);
  });

  it('with no configuration refuses every key (no endpoint is allowed), and probing through provider "none" says the same', async () => {
    const fake = await fakeServer();
    const repo = makeRepo();
    const { call } = await connect();
    process.env[OWN_VAR] = SECRET;
    const dgx = await call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: fake.endpoint, api_key_env: OWN_VAR });
    expect(dgx.isError).toBe(true);
    const openai = await call('set_project', { path: repo, provider: 'openai', base_url: fake.url, model: 'm', api_key_env: OWN_VAR });
    expect(openai.isError).toBe(true);

    // Provider "none" sends nothing, so it must not read (and so reveal) a variable either.
    delete process.env[FOREIGN_VAR];
    const unset = await call('set_project', { path: repo, provider: 'none', api_key_env: FOREIGN_VAR });
    process.env[FOREIGN_VAR] = SECRET;
    const set = await call('set_project', { path: repo, provider: 'none', api_key_env: FOREIGN_VAR });
    expect(set.isError).toBe(true);
    expect(set.content[0].text).toBe(unset.content[0].text);
    expect(fake.requests).toEqual([]);
  });

  it('allows a variable and an endpoint the server lists', async () => {
    const listed = await fakeServer();
    process.env[FOREIGN_VAR] = SECRET;
    const { call } = await connect({ allowedKeyEnvs: [FOREIGN_VAR], allowedEndpoints: [listed.url] });
    const ok = await call('set_project', { path: makeRepo(), provider: 'openai', base_url: listed.url, model: 'm', api_key_env: FOREIGN_VAR });
    expect(ok.isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect(authorizations(listed)).toContain(`Bearer ${SECRET}`);
  });

  it("allows the server's own key variable and endpoint, and only together", async () => {
    const own = await fakeServer();
    const other = await fakeServer();
    const repo = makeRepo();
    process.env[FOREIGN_VAR] = SECRET;
    // As `codecarto mcp --provider dgx --dgx-endpoint <own> --api-key-env <FOREIGN_VAR>` configures it.
    const { call } = await connect({ settings: { provider: 'dgx', dgx_endpoint: own.endpoint, api_key_env: FOREIGN_VAR } });
    expect((await call('set_project', { path: repo })).isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect(authorizations(own)).toContain(`Bearer ${SECRET}`);
    // The server's own key does not follow an agent's endpoint.
    expect((await call('set_project', { path: repo, dgx_endpoint: other.endpoint })).isError).toBe(true);
    expect(other.requests).toEqual([]);
  });
});

describe('who configures the allow lists', () => {
  it('`codecarto mcp --allow-key-env --allow-endpoint` allow a key there, and a bad entry is reported, not applied', async () => {
    const listed = await fakeServer();
    process.env[FOREIGN_VAR] = SECRET;
    const bad = mcpConfig(['--allow-endpoint', `${listed.url},ftp://nope`], {});
    expect(bad.allowedEndpoints).toEqual([listed.url]);
    expect(bad.problems?.join(' ')).toMatch(/--allow-endpoint takes .*"ftp:\/\/nope" is left out/);
    const config = mcpConfig(['--allow-key-env', FOREIGN_VAR, '--allow-endpoint', listed.url], {});
    expect(config.allowedKeyEnvs).toEqual([FOREIGN_VAR]);
    expect(config.problems).toEqual([]);
    const { call } = await connect({ ...config, home: tempDir('keys-home') });
    expect((await call('set_project', { path: makeRepo(), provider: 'dgx', dgx_endpoint: listed.endpoint, api_key_env: FOREIGN_VAR })).isError).toBeFalsy();
    expect((await call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect(authorizations(listed)).toContain(`Bearer ${SECRET}`);
  });

  it("a one-shot command trusts its own flags, but never sends their key to an endpoint saved by someone else", async () => {
    const person = await fakeServer();
    const saved = await fakeServer();
    const repo = makeRepo();
    process.env[FOREIGN_VAR] = SECRET;
    const home = tempDir('keys-home');
    // An agent saved an endpoint for this project, without a key (allowed: no secret leaves).
    const agent = await connect({ home });
    expect((await agent.call('set_project', { path: repo, provider: 'dgx', dgx_endpoint: saved.endpoint })).isError).toBeFalsy();
    await agent.close();
    sessions.splice(sessions.indexOf(agent), 1);

    // `codecarto index --api-key-env FOREIGN_VAR` alone: the saved endpoint is not the person's.
    const keyOnly = { api_key_env: FOREIGN_VAR };
    const cli = await connect(trustingFlags({ ...loadConfig({}), home }, keyOnly));
    expect((await cli.call('set_project', { path: repo, ...keyOnly })).isError).toBe(true);
    // With the endpoint named on the same command line, the key goes there.
    const both = { provider: 'dgx' as const, dgx_endpoint: person.endpoint, api_key_env: FOREIGN_VAR };
    const cli2 = await connect(trustingFlags({ ...loadConfig({}), home }, both));
    expect((await cli2.call('set_project', { path: repo, ...both })).isError).toBeFalsy();
    expect((await cli2.call('index', { wait_seconds: 60 })).structuredContent.state).toBe('done');
    expect(authorizations(person)).toContain(`Bearer ${SECRET}`);
    expect(authorizations(saved).every((a) => a === undefined)).toBe(true);
  });
  it('`codecarto index --api-key-env --dgx-endpoint` sends the key the person named to the endpoint they named', async () => {
    const fake = await fakeServer();
    const run = await codecarto(['index', makeRepo(), '--provider', 'dgx', '--dgx-endpoint', fake.endpoint, '--api-key-env', FOREIGN_VAR], { [FOREIGN_VAR]: SECRET });
    expect(run.stderr).not.toMatch(/refused/);
    expect(run.code).toBe(0);
    expect(authorizations(fake)).toContain(`Bearer ${SECRET}`);
  });
});

describe('CredentialPolicy', () => {
  const policy = new CredentialPolicy({ keyEnvs: ['CODECARTO_*', 'OPENAI_API_KEY'], endpoints: ['http://dgx.lan:8080/embed', 'https://api.openai.com'] });

  it('matches variables by exact name or NAME_* prefix', () => {
    expect(policy.allowsKeyEnv('OPENAI_API_KEY')).toBe(true);
    expect(policy.allowsKeyEnv('CODECARTO_KEY')).toBe(true);
    expect(policy.allowsKeyEnv('OPENAI_API_KEY_2')).toBe(false);
    expect(policy.allowsKeyEnv('AWS_SECRET_ACCESS_KEY')).toBe(false);
    expect(policy.allowsKeyEnv('codecarto_key')).toBe(false);
  });

  it('compares parsed URLs: origin exactly, path on segment boundaries', () => {
    const allowed = ['http://dgx.lan:8080/embed', 'http://DGX.lan:8080/embed', 'http://dgx.lan:8080/embed/', 'http://dgx.lan:8080/embed?x=1', 'https://api.openai.com/v1/embeddings', 'https://api.openai.com:443/v1/embeddings'];
    const refused = [
      'http://dgx.lan:8080@evil.example/embed',
      'http://evil.example/embed#http://dgx.lan:8080/embed',
      'http://evil.example/http://dgx.lan:8080/embed',
      'http://dgx.lan.evil.example:8080/embed',
      'http://dgx.lan:8081/embed',
      'https://dgx.lan:8080/embed',
      'http://dgx.lan:8080/embedded',
      'http://dgx.lan:8080/embed/../admin',
      'http://dgx.lan:8080/embed/%2e%2e/admin',
      'http://user:pw@dgx.lan:8080/embed',
      'http://api.openai.com/v1/embeddings',
      'not a url',
    ];
    for (const url of allowed) expect(policy.allowsEndpoint(url), url).toBe(true);
    for (const url of refused) expect(policy.allowsEndpoint(url), url).toBe(false);
  });

  it('refuses malformed allow-list entries when the server starts', () => {
    expect(() => new CredentialPolicy({ endpoints: ['ftp://host/x'] })).toThrow(/http/);
    expect(() => new CredentialPolicy({ endpoints: ['http://user@host/x'] })).toThrow(/user info/);
    expect(() => new CredentialPolicy({ keyEnvs: ['BAD-NAME'] })).toThrow(/variable name/);
  });
});
