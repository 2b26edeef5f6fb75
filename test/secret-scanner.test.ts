import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareFile } from '../indexer/prepare/prepare-file.js';
import { languageForPath } from '../indexer/chunk/languages.js';
import { CODECARTO_RULES } from '../indexer/prepare/secrets/codecarto-rules.js';
import { KeywordAutomaton } from '../indexer/prepare/secrets/keyword-automaton.js';
import { GITLEAKS_GLOBAL_ALLOWLIST, GITLEAKS_RULES } from '../indexer/prepare/secrets/gitleaks-rules.js';
import { re2ToRegExp, translateRe2 } from '../indexer/prepare/secrets/re2-to-js.js';
import { chunkHasSecret, scanForSecrets, type SecretFinding } from '../indexer/prepare/secrets/secret-scanner.js';
import { loadMistralTokenizer } from '../models/hf-tokenizer.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { dockerConfigJson, fake, gcpServiceAccountJson, kubeconfigYaml, pemBody, randomFrom } from './helpers/fake-secrets.js';
import { tempDir } from './helpers/stdio-client.js';

const rulesOf = (findings: SecretFinding[]) => [...new Set(findings.map((f) => f.ruleId))].sort();

describe('RE2 to JavaScript translation (gitleaks writes Go regexps)', () => {
  it('compiles every pattern of gitleaks\' rule set and codecarto\'s', () => {
    const patterns = [...GITLEAKS_RULES, ...CODECARTO_RULES].flatMap((r) => [
      r.regex,
      r.path,
      ...(r.allowlists ?? []).flatMap((a) => [...(a.regexes ?? []), ...(a.paths ?? [])]),
    ]);
    patterns.push(...(GITLEAKS_GLOBAL_ALLOWLIST.regexes ?? []));
    const failures = patterns.filter((p): p is string => p !== undefined).flatMap((p) => {
      try {
        re2ToRegExp(p, 'gd');
        return [];
      } catch (error) {
        return [(error as Error).message];
      }
    });
    expect(failures).toEqual([]);
    expect(GITLEAKS_RULES.length).toBeGreaterThan(200);
  });

  it('scopes inline flags as RE2 does', () => {
    // (?i) in the middle lasts to the end of its group; Node 20 has no inline modifiers.
    const mid = re2ToRegExp(String.raw`\b(p8e-(?i)[a-z0-9]{4})x`);
    expect(mid.test('p8e-AbC1x')).toBe(true);
    expect(mid.test('P8E-abc1x')).toBe(false);
    expect(mid.test('p8e-abc1X')).toBe(false);
    // (?-i:...) switches it off inside a pattern that is otherwise case-insensitive.
    const off = re2ToRegExp(String.raw`(?i)key(?-i:[Aa]pi|API)=`);
    expect(off.test('KEYApi=')).toBe(true);
    expect(off.test('keyaPI=')).toBe(false);
    expect(re2ToRegExp('(?i)secret').flags).toContain('i');
    // A class ending in "-" keeps the "-" literal when the other case is added.
    expect(translateRe2('(?i:[a-z=-]+)').source).toBe('(?:[A-Za-z=-]+)');
    expect(re2ToRegExp(String.raw`^[[:alnum:]]{3}\z`).test('aZ9')).toBe(true);
    expect(re2ToRegExp(String.raw`(?s:a.b)`).test('a\nb')).toBe(true);
    expect(re2ToRegExp(String.raw`(?P<name>ab)`).exec('ab')?.groups?.name).toBe('ab');
  });
});

describe('KeywordAutomaton (the one-pass keyword prefilter)', () => {
  it('finds overlapping and nested keywords in any ASCII case, with the lines of tracked ones', () => {
    const words = ['key', 'api', 'api_key', 'sk_live', 'sk', 'never'];
    const hits = new KeywordAutomaton(words, [0, 3]).scan('const x = 1;\nAPI_KEY = "sk_live_abc"\nmonkey\n');
    expect(words.filter((_, i) => hits.present[i] === 1)).toEqual(['key', 'api', 'api_key', 'sk_live', 'sk']);
    expect(hits.lines.get(0)).toEqual([2, 3]);
    expect(hits.lines.get(3)).toEqual([2]);
    expect(hits.lines.has(1)).toBe(false);
  });
});

describe('scanForSecrets: generated fake secrets of each kind, in the files the adversarial sweep found', () => {
  const privateKeys = [fake.rsaPrivateKeyPem(), fake.rsaPkcs1Pem(), fake.ecPrivateKeyPem()];

  it('private-key blocks anywhere (config.txt, src/key_material.py) leave the whole file out', () => {
    for (const pem of privateKeys) {
      const findings = scanForSecrets(`# settings\nhost = "db"\n${pem}\nport = 5432\n`, 'config.txt');
      expect(rulesOf(findings)).toContain('private-key');
      expect(findings.find((f) => f.ruleId === 'private-key')!.scope).toBe('file');
    }
    const python = `"""Key material for the tests."""\n\nKEY = """${privateKeys[0]}"""\n\ndef load():\n    return KEY\n`;
    expect(scanForSecrets(python, 'src/key_material.py').some((f) => f.scope === 'file')).toBe(true);
  });

  it('cloud credentials: a GCP service-account JSON, AWS key pairs, Azure secrets', () => {
    const gcp = scanForSecrets(gcpServiceAccountJson(privateKeys[0], randomFrom('0123456789abcdef', 40)), 'deploy/sa-prod.json');
    expect(rulesOf(gcp)).toEqual(expect.arrayContaining(['gcp-service-account', 'private-key']));
    expect(gcp.some((f) => f.scope === 'file')).toBe(true);

    const id = fake.awsAccessKeyId();
    const key = fake.awsSecretAccessKey();
    const credentials = `default:\n  aws_access_key_id: ${id}\n  aws_secret_access_key: ${key}\n  region: eu-west-1\n`;
    const aws = scanForSecrets(credentials, 'config/credentials.yml');
    expect(aws.map((f) => f.secret)).toEqual(expect.arrayContaining([id, key]));

    const azureSecret = fake.azureClientSecret();
    const azure = scanForSecrets(`AZURE_CLIENT_SECRET="${azureSecret}"\n`, 'azure.env.sh');
    expect(azure.map((f) => f.secret)).toContain(azureSecret);
    const accountKey = fake.azureStorageKey();
    const storage = scanForSecrets(
      `conn = "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=${accountKey};EndpointSuffix=core.windows.net"\n`,
      'storage.py',
    );
    expect(storage.map((f) => f.secret)).toContain(accountKey);
  });

  it('token formats: GitHub, npm, Slack, Stripe, each as a chunk-scoped finding', () => {
    const tokens = { 'github-pat': fake.githubPat(), 'npm-access-token': fake.npmToken(), 'slack-bot-token': fake.slackBotToken(), 'stripe-access-token': fake.stripeLiveKey() };
    for (const [rule, token] of Object.entries(tokens)) {
      const findings = scanForSecrets(`const client = connect();\nconst credential = '${token}';\nexport default client;\n`, 'src/client.ts');
      const hit = findings.find((f) => f.secret.includes(token) || token.includes(f.secret));
      expect(hit, `${rule} in ${token.slice(0, 6)}...`).toBeDefined();
      expect(findings.map((f) => f.ruleId)).toContain(rule);
      expect(hit!.scope).toBe('chunk');
      expect(hit!.startLine).toBe(2);
    }
    expect(rulesOf(scanForSecrets(`${tokens['github-pat']}\n`, 'token.txt'))).toContain('github-pat');
    const env = `#!/bin/sh\nexport GITHUB_TOKEN=${tokens['github-pat']}\nexport AWS_SECRET_ACCESS_KEY=${fake.awsSecretAccessKey()}\n`;
    expect(rulesOf(scanForSecrets(env, 'env.sh'))).toEqual(expect.arrayContaining(['github-pat', 'aws-secret-access-key']));
  });

  it('registry auth in .docker/config.json and .yarnrc.yml, kubeconfig credentials', () => {
    const auth = Buffer.from(`ci-bot:${fake.highEntropy()}`).toString('base64');
    const docker = scanForSecrets(dockerConfigJson(auth), '.docker/config.json');
    expect(docker.find((f) => f.ruleId === 'docker-config-auth')?.scope).toBe('file');

    const npm = fake.npmToken();
    const yarn = scanForSecrets(`nodeLinker: node-modules\nnpmRegistryServer: "https://registry.example.com"\nnpmAuthToken: "${npm}"\n`, '.yarnrc.yml');
    expect(yarn.map((f) => f.secret)).toContain(npm);
    const uuidToken = scanForSecrets(`npmAuthToken: ${crypto.randomUUID()}\n`, '.yarnrc.yml');
    expect(rulesOf(uuidToken)).toContain('yarn-npm-auth');

    const keyData = Buffer.from(privateKeys[0]).toString('base64');
    const withKey = scanForSecrets(kubeconfigYaml({ clientKeyData: keyData }), 'kubeconfig.yaml');
    expect(rulesOf(withKey)).toEqual(expect.arrayContaining(['base64-private-key', 'kubeconfig-client-key-data']));
    expect(withKey.every((f) => f.scope === 'file')).toBe(true);
    const withToken = scanForSecrets(kubeconfigYaml({ token: fake.bearerToken() }), 'kubeconfig.yaml');
    expect(withToken.find((f) => f.ruleId === 'kubeconfig-user-credential')?.scope).toBe('file');
  });

  it('npmrc credentials where npmrc syntax puts them, not Python names that end in _auth (requests sessions.py)', () => {
    const npm = fake.npmToken();
    const basic = Buffer.from(`ci-bot:${fake.highEntropy()}`).toString('base64');
    const npmrc = `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${npm}\n_auth=${basic}\n  _password = "${basic}"\n`;
    const found = scanForSecrets(npmrc, 'ci/publish.sh').filter((f) => f.ruleId === 'npmrc-auth');
    expect(found.map((f) => f.secret).sort()).toEqual([npm, basic, basic].sort());
    const python = [
      `        new_auth = get_netrc_auth(url) if self.trust_env else None\n`,
      `    proxy_auth = build_proxy_header(username)\n`,
      `self.my_password = read_password_from(keyring_name)\n`,
    ];
    for (const text of python) expect(rulesOf(scanForSecrets(text, 'src/requests/sessions.py')), text).not.toContain('npmrc-auth');
  });

  it('high-entropy assignments to password, secret, token names', () => {
    const password = fake.password();
    const streamlit = scanForSecrets(`[database]\nhost = "db.internal"\npassword = "${password}"\n`, '.streamlit/secrets.toml');
    expect(streamlit.map((f) => f.secret)).toContain(password);
    for (const name of ['db_password', 'client_secret', 'auth_token', 'API_KEY']) {
      const value = randomFrom('abcdefghijklmnopqrstuvwxyz0123456789ABCDEF', 32);
      expect(scanForSecrets(`${name} = "${value}"\n`, 'settings.py').map((f) => f.secret), name).toContain(value);
    }
  });

  it('leaves ordinary code alone (false positives)', () => {
    const ordinary = [
      `password = os.environ["PASSWORD"]\n`,
      `token = get_token()\n`,
      `secret = load_secret(path)\n`,
      `const apiKey = process.env.API_KEY;\n`,
      `api_key = "xxxxxxxxxxxxxxxxxxxxxxxx"\n`,
      `password: "changeme"\n`,
      `TOKEN = "\${GITHUB_TOKEN}"\n`,
      `auth_header = f"Bearer {token}"\n`,
      `export function tokenize(text: string): string[] { return text.split(/\\s+/); }\n`,
      `"integrity": "sha512-${Buffer.from(randomFrom('abc', 64)).toString('base64')}",\n`,
      `# see https://user:\${PASSWORD}@example.com for the format\n`,
      `key_length = 2048\nsecret_name = "prod-db-credentials"\n`,
      `- name: admin\n  user:\n    token: ""\n`,
      `{"auths": {"registry.example.com": {}}, "credsStore": "desktop"}\n`,
      'DATABASE_URL = "postgres://user:password@localhost:5432/app"\n',
      `"exports": { "./tokenizer": "./models/tokenizer.json" }\n`,
      `secret_path = "/etc/app/secret-2024.key"\n`,
      `{"Unexpected_token_1012": "予期しないトークンです。トークン1012"}\n`,
      `TOKEN_STRINGS = "[A-Za-z0-9._~+/-]+=*"\n`,
      `nextLastSignificantToken = "?NonExpressionParenEnd";\n`,
      `const tokenizerPath = "./models/tokenizer.json";\n`,
    ];
    for (const text of ordinary) expect(scanForSecrets(text, 'src/app.py'), text).toEqual([]);
  });
});

describe('prepareFile: a file or chunk that holds a secret never leaves preparation', () => {
  let tokenizer: TextTokenizer;
  let repo: string;
  beforeAll(async () => {
    tokenizer = await loadMistralTokenizer();
    repo = tempDir('secret-prepare');
  });
  const prepare = (path: string, text: string) => {
    const absPath = join(repo, path);
    mkdirSync(dirname(absPath), { recursive: true });
    writeFileSync(absPath, text);
    return prepareFile({ path, absPath, language: languageForPath(path) ?? 'text', maxTokens: 256 }, tokenizer);
  };

  it('skips a file with a private key as secret, without the key in the reason', async () => {
    const pem = fake.rsaPrivateKeyPem();
    const result = await prepare('config.txt', `name = demo\n${pem}`);
    expect(result).toMatchObject({ kind: 'skipped', reason: 'secret' });
    expect(JSON.stringify(result)).not.toContain(pemBody(pem)[1]);
  });

  it('drops only the chunk with a token from a long source file, and counts it', async () => {
    const token = fake.githubPat();
    const functions = Array.from({ length: 40 }, (_, i) => `def handler_${i}(event):\n    total = event["count"] * ${i}\n    return {"status": "ok", "total": total}\n`);
    functions.splice(20, 0, `def publish():\n    token = "${token}"\n    return upload(token)\n`);
    const result = await prepare('src/jobs.py', functions.join('\n'));
    if (result.kind !== 'chunked') throw new Error(`expected chunks, got ${result.kind}`);
    expect(result.secretChunks).toBeGreaterThanOrEqual(1);
    expect(result.secretRules).toContain('github-pat');
    expect(result.chunks.length).toBeGreaterThan(5);
    for (const chunk of result.chunks) {
      expect(chunk.text).not.toContain(token);
      expect(chunk.embedText).not.toContain(token);
    }
    expect(result.chunks.some((c) => c.text.includes('def handler_39'))).toBe(true);
  });

  it('a token on an over-long line cut by characters is dropped with every piece of the line', async () => {
    const token = fake.stripeLiveKey();
    const filler = Array.from({ length: 400 }, (_, i) => `"k${i}": ${i}`).join(', ');
    const line = `CONFIG = {${filler}, "stripe_key": "${token}", ${filler}}`;
    // Short lines around it keep the average line short, so the file does not read as minified.
    const short = Array.from({ length: 60 }, (_, i) => `X${i} = ${i}`).join('\n');
    const result = await prepare('src/big_config.py', `import os\n${short}\n${line}\n\ndef main():\n    return CONFIG\n`);
    if (result.kind !== 'chunked') throw new Error(`expected chunks, got ${result.kind}`);
    for (const chunk of result.chunks) expect(chunk.text).not.toContain(token.slice(8, 20));
    expect(result.chunks.some((c) => c.text.includes('def main'))).toBe(true);
  });

  it('chunkHasSecret matches by text and by lines', () => {
    const f: SecretFinding = { ruleId: 'x', scope: 'chunk', startLine: 10, endLine: 10, secret: 'abcdef123456' };
    expect(chunkHasSecret({ text: 'x = "abcdef123456"', startLine: 1, endLine: 3 }, [f])).toBe(true);
    expect(chunkHasSecret({ text: 'cdef12', startLine: 10, endLine: 10 }, [f])).toBe(true);
    expect(chunkHasSecret({ text: 'class A:', startLine: 1, endLine: 40 }, [f])).toBe(false);
  });
});
