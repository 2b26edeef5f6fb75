/**
 * Finds which of many ASCII keywords occur in a text, ignoring ASCII case, in one pass (Aho-Corasick,
 * as gitleaks' prefilter does). A `includes` per keyword costs a pass each: with gitleaks' ~270
 * keywords that was most of the secret scan's time.
 */

const ALPHABET = 128;

export interface KeywordHits {
  /** Indexes (into the constructor's list) of the keywords that occur. */
  present: Uint8Array;
  /** For tracked keywords: the 1-based lines they occur on, ascending, without repeats. */
  lines: Map<number, number[]>;
}

export class KeywordAutomaton {
  /** delta[state * 128 + char]: the next state, failure links already folded in. */
  private readonly delta: Int32Array;
  /** Keywords ending at each state, those reached through failure links included. */
  private readonly outputs: number[][];
  private readonly tracked: Uint8Array;

  /** `keywords` are matched in lower case; `tracked` are the indexes whose lines are recorded. */
  constructor(
    readonly keywords: readonly string[],
    tracked: Iterable<number> = [],
  ) {
    const children: Map<number, number>[] = [new Map()];
    const outputs: number[][] = [[]];
    keywords.forEach((keyword, index) => {
      let state = 0;
      for (const ch of keyword.toLowerCase()) {
        const c = ch.charCodeAt(0);
        if (c >= ALPHABET) throw new Error(`keyword ${JSON.stringify(keyword)} is not ASCII`);
        let next = children[state].get(c);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          outputs.push([]);
          children[state].set(c, next);
        }
        state = next;
      }
      outputs[state].push(index);
    });
    const delta = new Int32Array(children.length * ALPHABET);
    const fail = new Int32Array(children.length);
    // Breadth first, so a state's failure target is complete before the state itself.
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const next = children[0].get(c) ?? 0;
      delta[c] = next;
      if (next !== 0) queue.push(next);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head];
      outputs[state] = [...outputs[state], ...outputs[fail[state]].filter((k) => !outputs[state].includes(k))];
      for (let c = 0; c < ALPHABET; c++) {
        const next = children[state].get(c);
        if (next === undefined) {
          delta[state * ALPHABET + c] = delta[fail[state] * ALPHABET + c];
        } else {
          fail[next] = delta[fail[state] * ALPHABET + c];
          delta[state * ALPHABET + c] = next;
          queue.push(next);
        }
      }
    }
    // Upper-case letters move like their lower-case ones.
    for (let s = 0; s < children.length; s++) {
      for (let c = 65; c <= 90; c++) delta[s * ALPHABET + c] = delta[s * ALPHABET + c + 32];
    }
    this.delta = delta;
    this.outputs = outputs;
    this.tracked = new Uint8Array(keywords.length);
    for (const index of tracked) this.tracked[index] = 1;
  }

  scan(text: string): KeywordHits {
    const present = new Uint8Array(this.keywords.length);
    const lines = new Map<number, number[]>();
    const { delta, outputs, tracked } = this;
    let state = 0;
    let line = 1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) line++;
      state = c < ALPHABET ? delta[state * ALPHABET + c] : 0;
      const out = outputs[state];
      if (out.length === 0) continue;
      for (const k of out) {
        present[k] = 1;
        if (tracked[k] === 0) continue;
        let at = lines.get(k);
        if (!at) lines.set(k, (at = []));
        if (at[at.length - 1] !== line) at.push(line);
      }
    }
    return { present, lines };
  }
}
