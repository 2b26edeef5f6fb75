/**
 * Maps a repository-relative path to the language name stored with its chunks, and says which
 * languages are cut along syntax boundaries. A null language means "do not index this file".
 */

/** Languages chunked with tree-sitter (see tree-sitter-parser.ts for the grammar behind each). */
export const SYNTAX_LANGUAGES: readonly string[] = Object.freeze([
  'typescript',
  'tsx',
  'javascript',
  'python',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'csharp',
  'ruby',
  'php',
  'kotlin',
  'swift',
]);

const BY_EXTENSION: Readonly<Record<string, string>> = {
  // Syntax languages.
  ts: 'typescript', mts: 'typescript', cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  py: 'python', pyi: 'python', pyw: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', cxx: 'cpp', 'c++': 'cpp', hh: 'cpp', hpp: 'cpp', hxx: 'cpp', 'h++': 'cpp', ipp: 'cpp', inl: 'cpp',
  cs: 'csharp',
  rb: 'ruby', rake: 'ruby', gemspec: 'ruby',
  php: 'php', phtml: 'php',
  kt: 'kotlin', kts: 'kotlin',
  swift: 'swift',
  // Markdown, split at headings.
  md: 'markdown', markdown: 'markdown', mdx: 'markdown', mdown: 'markdown',
  // Other code and text, split into line windows.
  scala: 'scala', sc: 'scala',
  dart: 'dart',
  lua: 'lua',
  zig: 'zig',
  ex: 'elixir', exs: 'elixir',
  erl: 'erlang', hrl: 'erlang',
  hs: 'haskell',
  ml: 'ocaml', mli: 'ocaml',
  clj: 'clojure', cljs: 'clojure', edn: 'clojure',
  el: 'elisp',
  r: 'r',
  jl: 'julia',
  pl: 'perl', pm: 'perl',
  m: 'objc', mm: 'objc',
  vue: 'vue', svelte: 'svelte', astro: 'astro',
  sol: 'solidity',
  sh: 'shell', bash: 'shell', zsh: 'shell', fish: 'shell', ksh: 'shell',
  ps1: 'powershell', psm1: 'powershell',
  bat: 'batch', cmd: 'batch',
  json: 'json', jsonc: 'json', json5: 'json',
  yaml: 'yaml', yml: 'yaml',
  toml: 'toml',
  ini: 'ini', cfg: 'ini', conf: 'ini', properties: 'ini', env: 'ini',
  xml: 'xml', xsd: 'xml', xsl: 'xml', plist: 'xml', csproj: 'xml', fsproj: 'xml', props: 'xml', targets: 'xml',
  html: 'html', htm: 'html', xhtml: 'html',
  css: 'css', scss: 'scss', sass: 'scss', less: 'less',
  sql: 'sql',
  graphql: 'graphql', gql: 'graphql',
  proto: 'protobuf',
  tf: 'terraform', hcl: 'terraform',
  gradle: 'gradle',
  cmake: 'cmake',
  mk: 'make', mak: 'make',
  dockerfile: 'dockerfile',
  rst: 'text', txt: 'text', adoc: 'text', org: 'text', tex: 'latex',
  csv: 'csv', tsv: 'csv',
};

/** Files named without a telling extension that are still worth indexing. */
const BY_FILENAME: Readonly<Record<string, string>> = {
  makefile: 'make', gnumakefile: 'make',
  dockerfile: 'dockerfile', containerfile: 'dockerfile',
  'cmakelists.txt': 'cmake',
  rakefile: 'ruby', gemfile: 'ruby', podfile: 'ruby', vagrantfile: 'ruby',
  jenkinsfile: 'groovy',
  procfile: 'text',
  readme: 'text', license: 'text', licence: 'text', copying: 'text', notice: 'text',
  authors: 'text', contributors: 'text', changelog: 'text', changes: 'text', todo: 'text',
  '.gitignore': 'text', '.gitattributes': 'text', '.dockerignore': 'text', '.npmignore': 'text',
  '.editorconfig': 'ini', '.npmrc': 'ini', '.env': 'ini',
  '.bashrc': 'shell', '.zshrc': 'shell', '.profile': 'shell',
};

/** Lock files and generated bundles: large, machine-written, useless as search results. */
const SKIPPED_FILENAMES = new Set([
  'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'cargo.lock', 'poetry.lock', 'composer.lock',
  'gemfile.lock', 'go.sum', 'bun.lockb', 'npm-shrinkwrap.json',
]);

/**
 * The language of `relPath`, or null when the file is not indexed (binaries, images, archives,
 * lock files, minified bundles and anything with an unknown extension).
 */
export function languageForPath(relPath: string): string | null {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1).toLowerCase();
  if (base === '' || SKIPPED_FILENAMES.has(base)) return null;
  if (/\.min\.(js|css)$/.test(base) || base.endsWith('.map')) return null;
  const byName = BY_FILENAME[base];
  if (byName) return byName;
  // `Dockerfile.dev`, `Makefile.am`, `README.old` and friends.
  const stem = base.split('.')[0];
  if (stem === 'dockerfile' || stem === 'containerfile') return 'dockerfile';
  if (stem === 'makefile') return 'make';
  const dot = base.lastIndexOf('.');
  if (dot <= 0) {
    // Extensionless names such as README or LICENSE are covered above; other bare names
    // (compiled binaries, scripts without extension) are skipped rather than guessed.
    return null;
  }
  const ext = base.slice(dot + 1);
  const byExt = BY_EXTENSION[ext];
  if (byExt) return byExt;
  if (stem === 'readme' || stem === 'license' || stem === 'changelog') return 'text';
  return null;
}

/** Every language name the index stores, sorted: what search's `language` filter accepts, besides LANGUAGE_ALIASES. */
export const LANGUAGE_NAMES: readonly string[] = Object.freeze(
  [...new Set([...SYNTAX_LANGUAGES, ...Object.values(BY_EXTENSION), ...Object.values(BY_FILENAME)])].sort(),
);

/**
 * Other names an agent uses for a language. File extensions (py, ts, rs, rb, kt, sh, cs, hpp ...) work
 * too, through BY_EXTENSION; these are the spellings that are not extensions.
 */
const LANGUAGE_ALIASES: Readonly<Record<string, string>> = {
  golang: 'go',
  'c++': 'cpp', cplusplus: 'cpp', 'c#': 'csharp', 'c-sharp': 'csharp', dotnet: 'csharp',
  'objective-c': 'objc', objectivec: 'objc', 'obj-c': 'objc',
  python3: 'python', py3: 'python',
  node: 'javascript', nodejs: 'javascript', ecmascript: 'javascript', es6: 'javascript',
  shellscript: 'shell', 'shell-script': 'shell', posix: 'shell',
  pwsh: 'powershell',
  docker: 'dockerfile', makefile: 'make', gnumake: 'make',
  plaintext: 'text', 'plain-text': 'text', restructuredtext: 'text', asciidoc: 'text',
  'emacs-lisp': 'elisp', emacslisp: 'elisp',
  proto3: 'protobuf',
  'objective-c++': 'objc',
};

/** The stored language name for `name` (a language name, an alias or a file extension, any case), or null. */
export function canonicalLanguage(name: string): string | null {
  const key = name.trim().toLowerCase().replace(/^\./, '');
  if (LANGUAGE_NAMES.includes(key)) return key;
  // Own keys only: "constructor" or "__proto__" is no alias.
  if (Object.hasOwn(LANGUAGE_ALIASES, key)) return LANGUAGE_ALIASES[key];
  return Object.hasOwn(BY_EXTENSION, key) ? BY_EXTENSION[key] : null;
}
