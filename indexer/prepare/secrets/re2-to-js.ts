/**
 * Translates the RE2 (Go regexp) syntax of gitleaks' rules into JavaScript regexes. Node 20 has no
 * inline modifiers, so scoped flags are rewritten: a case-insensitive span spells each letter both ways
 * ("k" becomes "[kK]"), a dot-all span turns "." into "[\s\S]". A pattern that is case-insensitive
 * throughout keeps its letters and gets the "i" flag instead.
 */

export class Re2SyntaxError extends Error {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`cannot translate the RE2 pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'Re2SyntaxError';
  }
}

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  digit: '0-9',
  xdigit: '0-9A-Fa-f',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\t\\n\\v\\f\\r ',
  word: '\\w',
  punct: '!-\\/:-@\\[-`{-~',
};

interface Scope {
  ci: boolean;
  dotAll: boolean;
}

/** `extraFlags` is added to the flags the pattern itself needs (e.g. 'g'). */
export function re2ToRegExp(pattern: string, extraFlags = ''): RegExp {
  const { source, flags } = translateRe2(pattern);
  const all = [...new Set(flags + extraFlags)].join('');
  try {
    return new RegExp(source, all);
  } catch (error) {
    throw new Re2SyntaxError(pattern, (error as Error).message);
  }
}

export function translateRe2(pattern: string): { source: string; flags: string } {
  // Case-insensitive from the start and never switched off: the 'i' flag is exact and cheaper.
  if (pattern.startsWith('(?i)') && !/\(\?[a-z]*-[a-z]*i/.test(pattern)) {
    return { source: rewrite(pattern.slice(4), { ci: false, dotAll: false }, pattern), flags: 'i' };
  }
  return { source: rewrite(pattern, { ci: false, dotAll: false }, pattern), flags: '' };
}

function rewrite(src: string, start: Scope, whole: string): string {
  let out = '';
  let scope: Scope = { ...start };
  const saved: Scope[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      const [text, next] = escape(src, i, whole);
      out += text;
      i = next;
    } else if (c === '[') {
      const [text, next] = charClass(src, i, scope.ci, whole);
      out += text;
      i = next;
    } else if (c === '(') {
      const flagGroup = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?(:|\))/.exec(src.slice(i));
      const named = /^\(\?P?<(\w+)>/.exec(src.slice(i));
      if (named) {
        // The name is copied as is: it is not part of what the group matches.
        saved.push(scope);
        out += `(?<${named[1]}>`;
        i += named[0].length;
      } else if (src.startsWith('(?:', i) || !src.startsWith('(?', i)) {
        saved.push(scope);
        const open = src.startsWith('(?:', i) ? '(?:' : '(';
        out += open;
        i += open.length;
      } else if (flagGroup) {
        const next = withFlags(scope, flagGroup[1], flagGroup[2] ?? '', whole);
        if (flagGroup[3] === ':') {
          saved.push(scope);
          out += '(?:';
        }
        // "(?i)" inside a group lasts to the end of that group, as in RE2.
        scope = next;
        i += flagGroup[0].length;
      } else {
        throw new Re2SyntaxError(whole, `unknown group at offset ${i}`);
      }
    } else if (c === ')') {
      const restored = saved.pop();
      if (!restored) throw new Re2SyntaxError(whole, `unbalanced ")" at offset ${i}`);
      scope = restored;
      out += ')';
      i++;
    } else if (c === '.' && scope.dotAll) {
      out += '[\\s\\S]';
      i++;
    } else if (scope.ci && isLetter(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      i++;
    } else if (c === '{') {
      // A repetition: copied whole, so its digits and commas are never read as literals.
      const rep = /^\{\d*(?:,\d*)?\}/.exec(src.slice(i));
      out += rep ? rep[0] : '\\{';
      i += rep ? rep[0].length : 1;
    } else {
      out += c;
      i++;
    }
  }
  if (saved.length > 0) throw new Re2SyntaxError(whole, 'unclosed "("');
  return out;
}

function withFlags(scope: Scope, on: string, off: string, whole: string): Scope {
  const next = { ...scope };
  for (const f of on) {
    if (f === 'i') next.ci = true;
    else if (f === 's') next.dotAll = true;
    else throw new Re2SyntaxError(whole, `unsupported flag "${f}"`);
  }
  for (const f of off) {
    if (f === 'i') next.ci = false;
    else if (f === 's') next.dotAll = false;
    else throw new Re2SyntaxError(whole, `unsupported flag "-${f}"`);
  }
  return next;
}

/** One escape outside a class: returns its JavaScript text and the offset after it. */
function escape(src: string, i: number, whole: string): [string, number] {
  const e = src[i + 1];
  if (e === undefined) throw new Re2SyntaxError(whole, 'trailing backslash');
  if (e === 'z') return ['$', i + 2]; // end of text: without the 'm' flag, "$" means exactly that
  if (e === 'A') return ['^', i + 2];
  if (e === 'Q' || e === 'C' || e === 'p' || e === 'P') throw new Re2SyntaxError(whole, `unsupported escape \\${e}`);
  if (e === 'x' && src[i + 2] === '{') {
    const end = src.indexOf('}', i);
    const hex = src.slice(i + 3, end);
    if (end < 0 || !/^[0-9a-fA-F]{1,4}$/.test(hex)) throw new Re2SyntaxError(whole, `unsupported escape \\x{${hex}}`);
    return [`\\u${hex.padStart(4, '0')}`, end + 1];
  }
  if (e === 'x') return [src.slice(i, i + 4), i + 4];
  return [src.slice(i, i + 2), i + 2];
}

/** A bracket expression starting at src[i] === '['. POSIX classes are spelled out; a ci class gets both cases. */
function charClass(src: string, i: number, ci: boolean, whole: string): [string, number] {
  let j = i + 1;
  let negated = false;
  if (src[j] === '^') {
    negated = true;
    j++;
  }
  let body = '';
  const extra = new Set<string>();
  let first = true;
  for (;;) {
    const c = src[j];
    if (c === undefined) throw new Re2SyntaxError(whole, 'unclosed "["');
    if (c === ']' && !first) break;
    first = false;
    if (c === '[' && src[j + 1] === ':') {
      const end = src.indexOf(':]', j + 2);
      const name = end < 0 ? '' : src.slice(j + 2, end);
      const spelled = POSIX_CLASSES[name];
      if (!spelled) throw new Re2SyntaxError(whole, `unknown class [:${name}:]`);
      body += spelled;
      j = end + 2;
      continue;
    }
    let atom: string;
    let literal: string | undefined;
    if (c === '\\') {
      const [text, next] = escape(src, j, whole);
      atom = text === '$' || text === '^' ? src.slice(j, next) : text;
      j = next;
    } else {
      atom = c === ']' || c === '[' ? `\\${c}` : c;
      literal = c;
      j++;
    }
    // A range a-z: both ends literal letters of one case get the other case's range too.
    if (literal !== undefined && src[j] === '-' && src[j + 1] !== ']' && src[j + 1] !== undefined && src[j + 1] !== '\\' && src[j + 1] !== '[') {
      const hi = src[j + 1];
      body += `${atom}-${hi}`;
      j += 2;
      if (ci && isLetter(literal) && isLetter(hi) && isLower(literal) === isLower(hi)) {
        extra.add(isLower(literal) ? `${literal.toUpperCase()}-${hi.toUpperCase()}` : `${literal.toLowerCase()}-${hi.toLowerCase()}`);
      }
      continue;
    }
    body += atom;
    if (ci && literal !== undefined && isLetter(literal)) extra.add(isLower(literal) ? literal.toUpperCase() : literal.toLowerCase());
  }
  // The other case goes first: after a trailing "-" it would read as a range.
  return [`[${negated ? '^' : ''}${[...extra].join('')}${body}]`, j + 1];
}

function isLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function isLower(c: string): boolean {
  return c >= 'a' && c <= 'z';
}
