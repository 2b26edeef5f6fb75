/**
 * Definitions the symbol table keeps that the chunker does not cut at: constants and module-level
 * variables, and every type of a Go `type (...)` group (the outline takes its first). Node types were
 * read off the tree-sitter-wasms 0.1.13 grammars, like syntax-specs.ts.
 */
import type { Node } from 'web-tree-sitter';
import type { SymbolKind } from './file-symbols.js';
import { TYPE_KINDS } from './syntax-specs.js';

export interface ExtraDef {
  name: string;
  kind: SymbolKind;
  /** The node that names it (its identifier). */
  nameNode: Node;
  /** Its own node when it is one of several in the matched node (a spec of a group); else the matched node is it. */
  node?: Node;
}

export interface ExtraRule {
  /** `scopeKind`: the kind of the enclosing definition, null at the top of the file. */
  defs(node: Node, scopeKind: string | null): ExtraDef[];
  /** Replaces the outline's rule for this node type in the symbol table (the chunks keep theirs). */
  override?: boolean;
}

const UPPER = /^[A-Z][A-Z0-9_]*$/;

const topLevel = (scopeKind: string | null): boolean => scopeKind === null || scopeKind === 'module';
const inType = (scopeKind: string | null): boolean => scopeKind !== null && TYPE_KINDS.has(scopeKind);

function named(node: Node | null | undefined, kind: SymbolKind, part?: Node): ExtraDef[] {
  if (!node || !/identifier$|^constant$|^name$/.test(node.type)) return [];
  return [{ name: node.text, kind, nameNode: node, ...(part ? { node: part } : {}) }];
}

function children(node: Node, ...types: string[]): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null && types.includes(c.type));
}

/** `MAX_SIZE = 10` (constant, also in a class), `app = Flask(__name__)` (variable, module level only). */
const pythonAssignment: ExtraRule = {
  defs(node, scopeKind) {
    const assignment = node.namedChild(0);
    if (node.namedChildCount !== 1 || assignment?.type !== 'assignment') return [];
    const left = assignment.childForFieldName('left');
    if (left?.type !== 'identifier') return [];
    if (UPPER.test(left.text) && (topLevel(scopeKind) || inType(scopeKind))) return named(left, 'constant');
    return topLevel(scopeKind) ? named(left, 'variable') : [];
  },
};

/** `export const isArray = Array.isArray` (the outline keeps only function and class values). */
const jsDeclaration: ExtraRule = {
  defs(node, scopeKind) {
    if (!topLevel(scopeKind)) return [];
    const kind: SymbolKind = node.child(0)?.type === 'const' ? 'constant' : 'variable';
    const declarators = children(node, 'variable_declarator');
    const part = declarators.length > 1;
    return declarators.flatMap((d) => named(d.childForFieldName('name'), kind, part ? d : undefined));
  },
};

function goSpecs(specType: string, kind: SymbolKind): ExtraRule {
  return {
    defs(node, scopeKind) {
      if (!topLevel(scopeKind)) return [];
      // `const X = 1` or a group `const ( A = iota; B )`, whose specs sit in a list node in some grammar versions.
      const specs = [...children(node, specType), ...children(node, `${specType}_list`).flatMap((l) => children(l, specType))];
      const part = specs.length > 1;
      return specs.flatMap((spec) => spec.childrenForFieldName('name').flatMap((n) => named(n, kind, part ? spec : undefined)));
    },
  };
}

/** Every `type_spec` of `type ( A struct{}; B int )`. */
const goTypes: ExtraRule = {
  override: true,
  defs(node) {
    const specs = children(node, 'type_spec', 'type_alias');
    const part = specs.length > 1;
    return specs.flatMap((spec) => {
      const type = spec.childForFieldName('type')?.type;
      const kind: SymbolKind = type === 'struct_type' ? 'struct' : type === 'interface_type' ? 'interface' : 'type';
      return named(spec.childForFieldName('name'), kind, part ? spec : undefined);
    });
  },
};

const byName = (kind: SymbolKind): ExtraRule => ({ defs: (node) => named(node.childForFieldName('name'), kind) });

/** `static final int MAX = 3;` */
const javaConstant: ExtraRule = {
  defs(node) {
    const modifiers = children(node, 'modifiers')[0]?.text ?? '';
    if (!/\bstatic\b/.test(modifiers) || !/\bfinal\b/.test(modifiers)) return [];
    const declarators = children(node, 'variable_declarator');
    const part = declarators.length > 1;
    return declarators.flatMap((d) => named(d.childForFieldName('name'), 'constant', part ? d : undefined));
  },
};

const rubyConstant: ExtraRule = {
  defs(node) {
    const left = node.childForFieldName('left');
    return left?.type === 'constant' ? named(left, 'constant') : [];
  },
};

const JS: Record<string, ExtraRule> = { lexical_declaration: jsDeclaration, variable_declaration: jsDeclaration };
const C: Record<string, ExtraRule> = { preproc_def: byName('constant'), preproc_function_def: byName('function') };

export const SYMBOL_EXTRAS: Readonly<Record<string, Readonly<Record<string, ExtraRule>>>> = {
  python: { expression_statement: pythonAssignment },
  javascript: JS,
  typescript: JS,
  tsx: JS,
  go: { const_declaration: goSpecs('const_spec', 'constant'), var_declaration: goSpecs('var_spec', 'variable'), type_declaration: goTypes },
  rust: { const_item: byName('constant'), static_item: byName('constant') },
  c: C,
  cpp: C,
  java: { field_declaration: javaConstant },
  ruby: { assignment: rubyConstant },
};
