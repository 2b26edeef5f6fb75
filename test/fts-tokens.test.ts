import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  identifierTokens,
  pathTokenText,
  queryTerms,
  splitIdentifier,
  toFtsMatchExpression,
  tokenText,
} from '../indexer/store/fts-tokens.js';
import { porterStem } from '../indexer/store/porter-stem.js';

describe('splitIdentifier', () => {
  it.each([
    ['getUserName', ['get', 'user', 'name']],
    ['get_user_name', ['get', 'user', 'name']],
    ['GET_USER_NAME', ['get', 'user', 'name']],
    ['HTTPServer', ['http', 'server']],
    ['parseJSON2', ['parse', 'json', '2']],
    ['XMLHttpRequest', ['xml', 'http', 'request']],
    ['utf8Decode', ['utf', '8', 'decode']],
    ['__init__', ['init']],
    ['$scope', ['scope']],
    ['x', ['x']],
    ['Ärger_öffnen', ['ärger', 'öffnen']],
  ])('%s -> %j', (word, parts) => {
    expect(splitIdentifier(word)).toEqual(parts);
  });
});

describe('identifierTokens', () => {
  it('keeps the whole identifier before its parts', () => {
    expect(identifierTokens('getUserName')).toEqual(['getusername', 'get', 'user', 'name']);
    expect(identifierTokens('get_user_name')).toEqual(['getusername', 'get', 'user', 'name']);
  });

  it('does not repeat a one-part word', () => {
    expect(identifierTokens('user')).toEqual(['user']);
    expect(identifierTokens('User')).toEqual(['user']);
  });

  it('skips absurdly long words (minified code, base64)', () => {
    expect(identifierTokens('a'.repeat(500))).toEqual([]);
  });
});

describe('tokenText', () => {
  it('splits code into identifier tokens and drops punctuation', () => {
    expect(tokenText('const n = getUserName(req.user_id);')).toBe(
      'const n getusername get user name req userid user id',
    );
  });

  it('keeps repeats so term frequency counts', () => {
    expect(tokenText('foo foo bar')).toBe('foo foo bar');
  });
});

describe('pathTokenText', () => {
  it('splits on / . - _ and camelCase', () => {
    expect(pathTokenText('src/httpServer/user-store_impl.ts')).toBe(
      'src httpserver http server user storeimpl store impl ts',
    );
  });
});

describe('queries', () => {
  it('processes queries like indexed text, without duplicates', () => {
    expect(queryTerms('user name')).toEqual(['user', 'name']);
    expect(queryTerms('getUserName user')).toEqual(['getusername', 'get', 'user', 'name']);
  });

  it('quotes every term and joins with OR', () => {
    expect(toFtsMatchExpression('HTTPServer start')).toBe('"httpserver" OR "http" OR "server" OR "start"');
  });

  it('neutralizes FTS5 syntax in user input', () => {
    // "and" and the one-letter words are query stop words (see search-ranking.test.ts); the rest stay literal.
    expect(toFtsMatchExpression('foo("bar") AND -x* NEAR(a b) col:y ^z')).toBe('"foo" OR "bar" OR "near" OR "col"');
    expect(toFtsMatchExpression('AND OR NOT')).toBe('"and" OR "or" OR "not"');
  });

  it('returns null when nothing is searchable', () => {
    expect(toFtsMatchExpression('')).toBeNull();
    expect(toFtsMatchExpression('  ()"*-:^ ')).toBeNull();
  });

  it('caps the number of terms', () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}x`).join(' ');
    expect(queryTerms(words).length).toBeLessThanOrEqual(64);
  });
});

describe('porterStem', () => {
  // Word forms from the Porter paper's examples and from code and docs (inflections, derivations, short and odd words).
  const WORDS = (
    'caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized hopping tanned ' +
    'falling hissing fizzed failing filing happy sky relational conditional rational valenci hesitanci digitizer ' +
    'conformabli radicalli differentli vileli analogousli vietnamization predication operator feudalism decisiveness ' +
    'hopefulness callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti electrical ' +
    'hopeful goodness revival allowance inference airliner gyroscopic adjustable defensible irritant replacement ' +
    'adjustment dependent adoption homologou communism activate angulariti homologous effective bowdlerize probate ' +
    'rate cease controll roll pushed pushes pushing signed signing signatures redirects redirected following ' +
    'flags flag errors handler handlers handling registered registration hooks generated generating generation ' +
    'completions completion matched matching matches ignored ignoring threads threading parsed parsing sizes ' +
    'cookies cookie encoded encoding decoding the was is a an be by xyz utf8 k8s http2 yes ages sses ies'
  ).split(' ');

  it('stems every word exactly as SQLite FTS5\'s porter tokenizer does', () => {
    const db = new Database(':memory:');
    try {
      db.exec(`CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2');
        CREATE VIRTUAL TABLE v USING fts5vocab(t, instance);`);
      const insert = db.prepare('INSERT INTO t(rowid, x) VALUES (?, ?)');
      WORDS.forEach((word, i) => insert.run(i + 1, word));
      const sqlite = (db.prepare('SELECT term, doc FROM v ORDER BY doc').all() as { term: string; doc: number }[]).map((r) => [WORDS[r.doc - 1], r.term]);
      expect(sqlite).toHaveLength(WORDS.length);
      expect(WORDS.map((word) => [word, porterStem(word)])).toEqual(sqlite);
    } finally {
      db.close();
    }
  });

  it('meets word forms and leaves tokens with digits, non-ASCII letters or under 3 letters alone', () => {
    expect(['push', 'pushed', 'pushes', 'pushing'].map(porterStem)).toEqual(['push', 'push', 'push', 'push']);
    expect(porterStem('http2')).toBe('http2');
    expect(porterStem('öffnen')).toBe('öffnen');
    expect(porterStem('is')).toBe('is');
  });
});
