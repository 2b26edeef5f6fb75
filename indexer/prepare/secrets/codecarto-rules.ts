/**
 * codecarto's rules beside gitleaks': credential file formats that gitleaks only catches by accident
 * (its generic rule) and a few cloud credentials it has no rule for. Same schema as gitleaks-rules.ts,
 * RE2 syntax, so the scanner treats both alike.
 */
import type { CodecartoSecretRule, SecretRuleAllowlist } from './secret-rule-types.js';

/** Bump when a rule here changes: indexes scanned with older rules are re-scanned once. */
export const CODECARTO_RULES_REVISION = 2;

/**
 * Upstream's global allowlist has "(?i)^true|false|null$", which by precedence allows any secret that
 * merely contains "false"; the intent is the whole value.
 */
export const GITLEAKS_ALLOWLIST_CORRECTIONS: ReadonlyMap<string, string> = new Map([['(?i)^true|false|null$', '(?i)^(?:true|false|null)$']]);

/** Whole files left out when one of gitleaks' rules fires: key material spans the file, not one chunk. */
export const GITLEAKS_FILE_SCOPED = new Set(['private-key', 'pkcs12-file', 'kubernetes-secret-yaml']);

/** Values that are templates or references, not secrets: ${VAR}, {{ var }}, %(var)s, <%= var %>. */
const PLACEHOLDERS: SecretRuleAllowlist = { regexes: [String.raw`\$\{|\{\{|%\(|<%`] };

export const CODECARTO_RULES: readonly CodecartoSecretRule[] = [
  {
    id: 'base64-private-key',
    description: 'A base64-encoded PEM private key (kubeconfig client-key-data, Kubernetes TLS secrets, CI variables).',
    // "LS0tLS1CRUdJTi" is base64 of "-----BEGIN" at the start of an encoded block.
    regex: String.raw`\b(LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2})`,
    keywords: ['ls0tls1crudjti'],
    scope: 'file',
    validate: (secret) => Buffer.from(secret.slice(0, 120), 'base64').toString('latin1').includes('PRIVATE KEY'),
  },
  {
    id: 'gcp-service-account',
    description: 'A Google Cloud service-account key file (its private_key_id; the key itself is caught as a private key).',
    regex: String.raw`"private_key_id"\s*:\s*"([a-f0-9]{40})"`,
    keywords: ['private_key_id'],
    requires: ['service_account'],
    entropy: 3,
    scope: 'file',
  },
  {
    id: 'docker-config-auth',
    description: 'Registry credentials in a Docker config.json ("auths" with an auth or identity token).',
    regex: String.raw`"(?:auth|identitytoken|registrytoken|password)"\s*:\s*"([^"\s]{8,})"`,
    keywords: ['"auth"', '"identitytoken"', '"registrytoken"', '"password"'],
    requires: ['"auths"'],
    scope: 'file',
    allowlists: [PLACEHOLDERS],
  },
  {
    id: 'kubeconfig-client-key-data',
    description: 'A kubeconfig user\'s client key (base64 PEM).',
    regex: String.raw`client-key-data:[ \t]*["']?([A-Za-z0-9+/]{20,}={0,2})`,
    keywords: ['client-key-data'],
    scope: 'file',
  },
  {
    id: 'kubeconfig-user-credential',
    description: 'A kubeconfig user\'s token, password or OIDC secret.',
    regex: String.raw`(?:^|\n)[ \t-]*(?:token|password|id-token|refresh-token|client-secret|access-token)[ \t]*:[ \t]*["']?([^\s"'#]{8,})`,
    keywords: ['token', 'password', 'client-secret'],
    requires: ['users:', 'clusters:', 'contexts:'],
    entropy: 3,
    scope: 'file',
    allowlists: [PLACEHOLDERS],
  },
  {
    id: 'aws-secret-access-key',
    description: 'An AWS secret access key assigned to its usual name.',
    regex: String.raw`(?i)aws_?secret_?(?:access_?)?key["']?\s*(?:=|:|=>)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)`,
    keywords: ['aws_secret', 'awssecret', 'aws_secretaccesskey', 'secret_access_key', 'secretaccesskey'],
    entropy: 4,
  },
  {
    id: 'azure-storage-account-key',
    description: 'An Azure storage account or Service Bus key in a connection string.',
    regex: String.raw`(?i)(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,88}={0,2})`,
    keywords: ['accountkey=', 'sharedaccesskey='],
    entropy: 4,
  },
  {
    id: 'azure-sas-token',
    description: 'An Azure shared access signature (the sig= of a SAS URL or token).',
    regex: String.raw`\bsig=([A-Za-z0-9%+/]{40,}(?:%3D|=){0,2})`,
    keywords: ['sig='],
    requires: ['sv='],
    entropy: 4,
  },
  {
    id: 'yarn-npm-auth',
    description: 'An npm registry credential in .yarnrc.yml (npmAuthToken / npmAuthIdent).',
    regex: String.raw`npmAuth(?:Token|Ident)["']?[ \t]*:[ \t]*["']?([^\s"'#]{8,})`,
    keywords: ['npmauthtoken', 'npmauthident'],
    entropy: 2.5,
    allowlists: [PLACEHOLDERS],
  },
  {
    id: 'npmrc-auth',
    description: 'An npm registry credential in npmrc syntax (_authToken, _auth, _password).',
    // The key starts a line or follows a registry scope's ':' ("//registry.npmjs.org/:_authToken="), so a
    // Python name that ends in it ("new_auth = get_netrc_auth(url)") is not read as one.
    regex: String.raw`(?:^|[\s:"'\x60])(?:_authToken|_auth|_password)[ \t]*=[ \t]*["']?([^\s"'#]{8,})`,
    keywords: ['_authtoken', '_auth', '_password'],
    entropy: 2.5,
    allowlists: [PLACEHOLDERS],
  },
  {
    id: 'quoted-secret-assignment',
    description:
      'A high-entropy quoted value assigned to a password, secret, token or key name: gitleaks\' generic rule takes no punctuation in values (passwords have it) and lets values through that contain one of ~1,500 common words.',
    // No leading [\w.-]{0,50}? as gitleaks' generic rules have: trying it at every offset is most of their cost.
    // Token and key names must end at the keyword ("auth_token", "apiKey"), so "tokenizer" paths and regexes are not taken.
    regex: String.raw`(?i)(?:(?:passw(?:or)?d|pwd|passphrase|secret)[\w.-]{0,20}|(?:token|api[_.-]?key|access[_.-]?key|auth))["']?[ \t]*(?::=|=>|=|:)[ \t]*["'\x60]([\x21\x23-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]{8,200})["'\x60]`,
    keywords: ['passw', 'pwd', 'passphrase', 'secret', 'token', 'key', 'auth'],
    entropy: 3.5,
    allowlists: [
      {
        regexes: [
          // Names, not passwords: snake, kebab, dotted, UPPER or camelCase words (random letters switch case too often).
          String.raw`^[?!@#$%&*:]?(?:[a-z]+|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]{2,})*)(?:[._-]+(?:[a-z]+|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]{2,})*))*$`,
          String.raw`^[a-z][a-z0-9+.-]*://[^@\s]*$`,
          String.raw`^\.{0,2}/[\w./-]*$`,
        ],
      },
      PLACEHOLDERS,
    ],
  },
  {
    id: 'url-credentials',
    description: 'A password in a URL (scheme://user:password@host).',
    regex: String.raw`\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:@/"'<>]{1,64}:([^\s@/"'<>]{6,128})@[A-Za-z0-9.-]+`,
    keywords: ['://'],
    nearKeywords: true,
    entropy: 3,
    allowlists: [PLACEHOLDERS],
  },
];
