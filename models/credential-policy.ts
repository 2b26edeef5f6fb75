/**
 * Which API keys an embedder may send, and where. set_project's arguments come from an agent that may
 * have read hostile text, so the person who starts the server decides both: the variables a key may be
 * read from and the endpoints it may be sent to. The check never looks at the environment, so its
 * refusal reads the same whether the named variable exists or not.
 */
import { InvalidInputError } from './errors/codecarto-error.js';
import { openAIEmbeddingsUrl } from './openai-embedder.js';

/** Without configuration, api_key_env may name only codecarto's own variables. */
export const DEFAULT_ALLOWED_KEY_ENVS: readonly string[] = ['CODECARTO_*'];

const KEY_ENV_PATTERN = /^(?:[A-Za-z_][A-Za-z0-9_]*\*?|\*)$/;

/** A variable name, or a prefix ending in `*`, as the allow list takes them. */
export function isKeyEnvPattern(entry: string): boolean {
  return KEY_ENV_PATTERN.test(entry.trim());
}

/** An allow-list endpoint: http(s)://host[:port][/path], without user info, query or fragment. */
export function isEndpointPrefix(entry: string): boolean {
  try {
    parseEndpointPrefix(entry);
    return true;
  } catch {
    return false;
  }
}

export interface CredentialPolicyOptions {
  /** Variable names, or prefixes ending in `*` (`CODECARTO_*`); default DEFAULT_ALLOWED_KEY_ENVS. */
  keyEnvs?: readonly string[];
  /** URL prefixes (`scheme://host[:port][/path]`) a key may be sent to; default none. */
  endpoints?: readonly string[];
}

/** The settings fields that decide whether a key leaves the process. */
export interface KeySettings {
  provider: string;
  api_key_env?: string;
  dgx_endpoint?: string;
  base_url?: string;
}

/** set_project named a key variable or an endpoint the server's own configuration does not allow. */
export class CredentialRefusedError extends InvalidInputError {}

interface EndpointPrefix {
  protocol: string;
  hostname: string;
  port: string;
  /** Path without a trailing slash; '' allows the whole origin. */
  path: string;
}

export class CredentialPolicy {
  private readonly keyEnvs: readonly string[];
  private readonly endpoints: readonly EndpointPrefix[];

  /**
   * The policy of a server started with `options` (its allow lists) and `own` settings (its own
   * CODECARTO_API_KEY_ENV, CODECARTO_DGX_ENDPOINT, CODECARTO_BASE_URL or the matching flags): what the
   * person configured is allowed on top of the lists. An own endpoint that is no URL allows nothing.
   */
  static forServer(options: CredentialPolicyOptions, own: Partial<KeySettings> = {}): CredentialPolicy {
    const ownEndpoints = [own.dgx_endpoint, own.base_url].filter((url): url is string => url !== undefined && isEndpointPrefix(url));
    return new CredentialPolicy({
      keyEnvs: [...(options.keyEnvs ?? DEFAULT_ALLOWED_KEY_ENVS), ...(own.api_key_env && isKeyEnvPattern(own.api_key_env) ? [own.api_key_env] : [])],
      endpoints: [...(options.endpoints ?? []), ...ownEndpoints],
    });
  }

  /** Throws on a malformed entry, naming it: the server's configuration is checked once, at start. */
  constructor(options: CredentialPolicyOptions = {}) {
    this.keyEnvs = (options.keyEnvs ?? DEFAULT_ALLOWED_KEY_ENVS).map((entry) => {
      const name = entry.trim();
      if (!KEY_ENV_PATTERN.test(name)) {
        throw new InvalidInputError(`Allowed key variable "${entry}" is not a variable name or a NAME_* prefix (e.g. OPENAI_API_KEY or CODECARTO_*).`);
      }
      return name;
    });
    this.endpoints = (options.endpoints ?? []).map(parseEndpointPrefix);
  }

  allowsKeyEnv(name: string): boolean {
    return this.keyEnvs.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
  }

  /** True when `url` is on an allowed origin, at or below an allowed path (compared parsed, never as text). */
  allowsEndpoint(url: string): boolean {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return false;
    }
    // A URL with user info is never a place to send a key (and `http://trusted@evil` is evil's).
    if (target.username || target.password) return false;
    return this.endpoints.some(
      (allowed) =>
        allowed.protocol === target.protocol &&
        allowed.hostname === target.hostname &&
        allowed.port === target.port &&
        (allowed.path === '' || target.pathname === allowed.path || target.pathname.startsWith(`${allowed.path}/`)),
    );
  }

  /**
   * Throws CredentialRefusedError unless settings without api_key_env, or with a key variable this
   * policy allows going to an endpoint it allows. A settings object without a key always passes.
   */
  check(settings: KeySettings): void {
    const name = settings.api_key_env;
    if (!name) return;
    const target = keyTarget(settings);
    if (this.allowsKeyEnv(name) && (target === null || this.allowsEndpoint(target))) return;
    throw new CredentialRefusedError(
      `api_key_env ${name} is refused${target === null ? '' : ` for ${safeOrigin(target)}`}: this server sends an API key only from a variable, and only to an endpoint, ` +
        'that the person who starts it allowed (CODECARTO_ALLOWED_KEY_ENVS or --allow-key-env, default CODECARTO_* names; ' +
        'CODECARTO_ALLOWED_ENDPOINTS or --allow-endpoint, plus the endpoint the server itself was started with). ' +
        'Leave api_key_env out for an endpoint that needs no key, or ask that person to allow this one where the server starts.',
    );
  }
}

/** The URL a key would be sent to, or null when the provider sends none. */
function keyTarget(settings: KeySettings): string | null {
  if (settings.provider === 'dgx') return settings.dgx_endpoint ?? '';
  if (settings.provider === 'openai') return settings.base_url ? openAIEmbeddingsUrl(settings.base_url) : '';
  return null;
}

/** The origin of a refused URL for the message; the caller's own text, so it says nothing about the server. */
function safeOrigin(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'that endpoint';
  }
}

function parseEndpointPrefix(entry: string): EndpointPrefix {
  let url: URL;
  try {
    url = new URL(entry.trim());
  } catch {
    throw new InvalidInputError(`Allowed endpoint "${entry}" is not a URL; use e.g. http://192.168.1.159:8080/embed or https://api.openai.com.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`Allowed endpoint "${entry}" must start with http:// or https://.`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new InvalidInputError(`Allowed endpoint "${entry}" must be scheme://host[:port][/path], without user info, query or fragment.`);
  }
  return { protocol: url.protocol, hostname: url.hostname, port: url.port, path: url.pathname.replace(/\/+$/, '') };
}
