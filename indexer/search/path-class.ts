/**
 * What kind of file a path is, for ranking: a question about code wants the code that answers it before the
 * tests, docs, changelogs and examples that repeat its words (docs/quality.md, "Ranking for plain-word
 * questions"). Judged from the path and the chunk's language only, so it costs nothing to ask per hit.
 */

export type PathClass = 'source' | 'test' | 'docs' | 'changelog' | 'example' | 'config';

const TEST_DIRS = new Set(['test', 'tests', '__tests__', 'spec', 'specs', '__mocks__', 'testdata', 'test-data', 'fixtures', 'e2e', 'bench', 'benches', 'benchmark', 'benchmarks', '__benchmarks__']);
const DOC_DIRS = new Set(['docs', 'documentation']);
const CHANGELOG_DIRS = new Set(['changelogs', 'changelog', 'changes', 'newsfragments', 'changelog.d']);
const EXAMPLE_DIRS = new Set(['examples', 'example', '_examples', 'samples', 'sample', 'demo', 'demos']);
const DOC_LANGUAGES = new Set(['markdown', 'text', 'rst', 'asciidoc']);
const CONFIG_LANGUAGES = new Set(['json', 'yaml', 'toml', 'ini', 'make', 'csv', 'xml', 'batch', 'dockerfile']);

/** Test files by name: test_x.py, x_test.py, x_test.go, x.test.ts, x.spec.js, x_spec.rb, conftest.py, XTest.java, XTests.cs. */
const TEST_FILE = /^(test_.+|.+_test|.+[._-](test|spec)|.+_spec|conftest|.+[a-z]Tests?)\.[^.]+$/;
/** A directory named like a test suite: dts-test, unit_tests, test-utils. */
const TEST_DIR_PART = /(^|[-_.])(tests?|specs?)([-_.]|$)/;
const CHANGELOG_FILE = /^(changes|changelog|history|news|releases?|release[-_]notes)([-_.].*)?$/i;

export function pathClass(path: string, language: string): PathClass {
  const parts = path.split('/');
  const file = parts[parts.length - 1];
  const dirs = parts.slice(0, -1).map((d) => d.toLowerCase());
  if ((CHANGELOG_FILE.test(file) && (DOC_LANGUAGES.has(language) || !file.includes('.'))) || dirs.some((d) => CHANGELOG_DIRS.has(d))) return 'changelog';
  if (dirs.some((d) => TEST_DIRS.has(d) || TEST_DIR_PART.test(d)) || TEST_FILE.test(file)) return 'test';
  if (dirs.some((d) => EXAMPLE_DIRS.has(d))) return 'example';
  if (DOC_LANGUAGES.has(language) || dirs.some((d) => DOC_DIRS.has(d))) return 'docs';
  if (CONFIG_LANGUAGES.has(language)) return 'config';
  return 'source';
}

/** A test module inside a source file (Rust's `mod tests`, qualified `tests.case_smart`) makes its chunks tests. */
const TEST_MODULE = /(^|[.:])(tests?|test_\w+)[.:]/;

/** The class of a chunk: its file's, except that a source file's test module is a test. */
export function chunkClass(path: string, language: string, symbol: string | null): PathClass {
  const cls = pathClass(path, language);
  return cls === 'source' && symbol !== null && TEST_MODULE.test(symbol) ? 'test' : cls;
}
