/**
 * English function words. In a query they match nearly every chunk (comments, docs, strings), so
 * they add noise to BM25's ranking and nothing to what is found; the grep baseline of `codecarto eval`
 * drops the same words, so both sides of that comparison see the same query.
 */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'the and for with from into onto that this these those than then there here when where which while who whom whose ' +
    'what why how are was were been being have has had having does did doing done not nor but our ours your yours ' +
    'their theirs them they you she her hers him his its itself himself herself themselves ourselves yourself myself ' +
    'also all any some each both few more most other such only own same can will would should could may might must shall ' +
    'just too very about above below after before again further once over under out off between through during until ' +
    'against because via per upon within without among whether either neither yet still even ever'
  ).split(' '),
);

/**
 * Two-letter function words (grep skips every word under 3 letters; code has meaningful short names
 * such as io, fs, os, db, id, so only these are dropped).
 */
export const SHORT_STOP_WORDS: ReadonlySet<string> = new Set(
  'a an am as at be by do if in is it me my no of on or so to up us we'.split(' '),
);
