/**
 * Fake secrets in the real formats, made at test time from node:crypto so no credential-shaped string
 * is ever committed (and so each run sees fresh values: a rule cannot pass by memorising one).
 */
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;

export function randomFrom(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export const fake = {
  awsAccessKeyId: () => `AKIA${randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
  awsSecretAccessKey: () => randomFrom(ALNUM + '/+', 40),
  githubPat: () => `ghp_${randomFrom(ALNUM, 36)}`,
  npmToken: () => `npm_${randomFrom(LOWER + DIGITS, 36)}`,
  slackBotToken: () => `xoxb-${randomFrom(DIGITS, 12)}-${randomFrom(DIGITS, 13)}-${randomFrom(ALNUM, 24)}`,
  stripeLiveKey: () => `sk_live_${randomFrom(ALNUM, 32)}`,
  azureClientSecret: () => `${randomFrom(ALNUM, 3)}${randomInt(10)}Q~${randomFrom(ALNUM + '_~.-', 34)}`,
  azureStorageKey: () => randomBytes(64).toString('base64'),
  highEntropy: () => randomFrom(ALNUM + '!#%&*+-./:=?@^_', 28),
  /** An opaque bearer token (a Kubernetes service-account or OAuth access token). */
  bearerToken: () => randomFrom(ALNUM, 40),
  /** A generated password as a policy asks for one: letters, a digit and a symbol, no quotes. */
  password: () => `${randomFrom(UPPER + LOWER, 6)}${randomFrom(DIGITS, 2)}${randomFrom('!#%&*+-:=?@^_', 2)}${randomFrom(ALNUM + '!#%&*+-./:=?@^_', 14)}`,
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), RSA 2048 as real keys are. */
  rsaPrivateKeyPem: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  /** PKCS#1 PEM ("-----BEGIN RSA PRIVATE KEY-----"). */
  rsaPkcs1Pem: () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  ecPrivateKeyPem: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
};

/** The body of a PEM block: the lines between its armour, joined (each is a distinctive substring). */
export function pemBody(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
}

export function gcpServiceAccountJson(privateKeyPem: string, privateKeyId: string): string {
  return JSON.stringify(
    {
      type: 'service_account',
      project_id: 'demo-project-123',
      private_key_id: privateKeyId,
      private_key: privateKeyPem,
      client_email: 'indexer@demo-project-123.iam.gserviceaccount.com',
      client_id: randomFrom(DIGITS, 21),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
    },
    null,
    2,
  );
}

export function dockerConfigJson(registryAuth: string): string {
  return JSON.stringify({ auths: { 'registry.example.com': { auth: registryAuth } }, credsStore: '' }, null, 2);
}

export function kubeconfigYaml(user: { clientKeyData?: string; token?: string }): string {
  const cred = user.clientKeyData
    ? `    client-certificate-data: ${Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64')}\n    client-key-data: ${user.clientKeyData}`
    : `    token: ${user.token}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    '    server: https://127.0.0.1:6443',
    '  name: demo',
    'contexts:',
    '- context:',
    '    cluster: demo',
    '    user: admin',
    '  name: demo',
    'current-context: demo',
    'users:',
    '- name: admin',
    '  user:',
    cred,
    '',
  ].join('\n');
}
