/** The shape of a secret-detection rule as data: gitleaks' rule schema (config/gitleaks.toml), plus codecarto's fields. */

export interface SecretRuleAllowlist {
  description?: string;
  /** 'AND': every check present must hold; default 'OR': a regex or a stopword suffices. */
  condition?: 'AND' | 'OR';
  /** What `regexes` are matched against: the secret (default), the whole match, or its line. */
  regexTarget?: 'match' | 'line';
  /** RE2 syntax, as gitleaks writes them. */
  regexes?: readonly string[];
  paths?: readonly string[];
  /** Lower-case substrings of the secret that mark it as not a secret. */
  stopwords?: readonly string[];
}

export interface SecretRuleSource {
  id: string;
  description: string;
  /** RE2 syntax; absent for a path-only rule. */
  regex?: string;
  /** Capture group holding the secret; default: the first non-empty group, else the whole match. */
  secretGroup?: number;
  /** A finding needs a secret with more Shannon entropy (bits per character) than this. */
  entropy?: number;
  /** The rule runs only on text whose lower-cased form contains one of these; none: always. */
  keywords?: readonly string[];
  /** The rule applies only to paths matching this RE2 regex (a path-only rule when `regex` is absent). */
  path?: string;
  allowlists?: readonly SecretRuleAllowlist[];
}

/**
 * codecarto's own rules: gitleaks' shape, plus what the index does with a finding and a check in code
 * for what a regex cannot say.
 */
export interface CodecartoSecretRule extends SecretRuleSource {
  /** 'file': the whole file is left out (key material, credential file formats); default 'chunk'. */
  scope?: 'file' | 'chunk';
  /** Every one of these lower-case substrings must occur in the text too (an AND beside `keywords`' OR). */
  requires?: readonly string[];
  /**
   * Every match lies on the line of one of `keywords` (plus up to 3 lines after it): the regex then runs
   * only around those lines. Set by the scanner for gitleaks' generic "name = value" rules.
   */
  nearKeywords?: boolean;
  /** Extra test of the secret, e.g. that base64 decodes to a private key. */
  validate?: (secret: string) => boolean;
}
