/**
 * Which tree-sitter nodes are definitions, per language: their chunk kind, their name, and whether
 * their members get chunks of their own (containers: classes, impls, namespaces...). Functions are
 * never containers: nested closures and local functions stay inside the function that owns them.
 * Node type names were read off the grammars in tree-sitter-wasms 0.1.13.
 */
import type { Node } from 'web-tree-sitter';

export interface DefMatch {
  kind: string;
  /** Unqualified name, or null for anonymous definitions. */
  name: string | null;
  container: boolean;
  /** The name is already qualified and must not get the enclosing scope (Go receivers). */
  qualified?: boolean;
  /** Where members are searched for when this is a wrapper (export, decorators, templates). */
  inner?: Node;
}

/** Resolves a node to a definition; `match` lets wrappers (e.g. `export ...`) defer to their inner node. */
export type DefRule = (node: Node, match: (node: Node) => DefMatch | null) => DefMatch | null;

export interface SyntaxSpec {
  defs: Readonly<Record<string, DefRule>>;
  /** Nodes that belong to the definition right below them (doc comments, attributes). */
  prefix: ReadonlySet<string>;
}

/** Kinds whose `function` members are reported as `method`. */
export const TYPE_KINDS: ReadonlySet<string> = new Set(['class', 'struct', 'interface', 'impl', 'trait', 'enum']);

const COMMENTS = ['comment', 'line_comment', 'block_comment', 'multiline_comment'];

function nameField(node: Node): string | null {
  return node.childForFieldName('name')?.text ?? null;
}

function childOfType(node: Node, ...types: string[]): Node | null {
  for (const child of node.namedChildren) if (child && types.includes(child.type)) return child;
  return null;
}

function def(kind: string, container = false, name: (node: Node) => string | null = nameField): DefRule {
  return (node) => ({ kind, name: name(node), container });
}

/** `Foo<T>`, `crate::Foo<T>` -> `Foo`: the bare type name that qualifies members. */
function bareType(text: string): string {
  const noGenerics = text.replace(/<[\s\S]*$/, '').trim();
  const parts = noGenerics.split(/::|\./);
  return parts[parts.length - 1] || noGenerics;
}

/** Wrapper whose definition is the child named `field` (or the first named child that matches). */
function wrapper(...fields: string[]): DefRule {
  return (node, match) => {
    let candidates: Node[] = [];
    for (const field of fields) {
      const child = node.childForFieldName(field);
      if (child) candidates.push(child);
    }
    if (candidates.length === 0) candidates = node.namedChildren.filter((c): c is Node => c !== null);
    for (const inner of candidates) {
      const found = match(inner);
      if (found) return { ...found, inner: found.inner ?? inner };
    }
    return null;
  };
}

// ---------------------------------------------------------------- JavaScript / TypeScript

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'function', 'generator_function']);

/** `const handler = async () => {...}`: a function in all but syntax. */
const jsVariable: DefRule = (node) => {
  const declarators = node.namedChildren.filter((c) => c?.type === 'variable_declarator');
  if (declarators.length !== 1 || !declarators[0]) return null;
  const value = declarators[0].childForFieldName('value');
  const name = declarators[0].childForFieldName('name')?.text ?? null;
  if (!value) return null;
  if (FUNCTION_VALUES.has(value.type)) return { kind: 'function', name, container: false };
  if (value.type === 'class') return { kind: 'class', name, container: true, inner: value };
  return null;
};

/** Class fields holding arrow functions (`onClick = () => {...}`) are methods. */
const jsField: DefRule = (node) => {
  const value = node.childForFieldName('value');
  if (!value || !FUNCTION_VALUES.has(value.type)) return null;
  return { kind: 'method', name: nameField(node) ?? node.childForFieldName('property')?.text ?? null, container: false };
};

const JS_DEFS: Record<string, DefRule> = {
  function_declaration: def('function'),
  generator_function_declaration: def('function'),
  class_declaration: def('class', true),
  method_definition: def('method'),
  lexical_declaration: jsVariable,
  variable_declaration: jsVariable,
  field_definition: jsField,
  export_statement: wrapper('declaration', 'value'),
};

const TS_DEFS: Record<string, DefRule> = {
  ...JS_DEFS,
  abstract_class_declaration: def('class', true),
  interface_declaration: def('interface'),
  type_alias_declaration: def('type'),
  enum_declaration: def('enum'),
  function_signature: def('function'),
  abstract_method_signature: def('method'),
  internal_module: def('module', true),
  module: def('module', true),
  public_field_definition: jsField,
  ambient_declaration: wrapper(),
};

// ---------------------------------------------------------------- Go

/** `func (s *Server) Start()` -> `Server.Start`. */
const goMethod: DefRule = (node) => {
  const receiver = node.childForFieldName('receiver')?.text ?? '';
  const type = /^\(\s*(?:[A-Za-z_]\w*\s+)?\*?\s*([A-Za-z_]\w*)/.exec(receiver)?.[1];
  const name = nameField(node);
  return { kind: 'method', name: type && name ? `${type}.${name}` : name, container: false, qualified: true };
};

const goType: DefRule = (node) => {
  const spec = childOfType(node, 'type_spec', 'type_alias');
  if (!spec) return null;
  const type = spec.childForFieldName('type')?.type;
  const kind = type === 'struct_type' ? 'struct' : type === 'interface_type' ? 'interface' : 'type';
  return { kind, name: nameField(spec), container: false };
};

// ---------------------------------------------------------------- Rust

const rustImpl: DefRule = (node) => {
  const type = node.childForFieldName('type')?.text;
  return { kind: 'impl', name: type ? bareType(type) : null, container: true };
};

// ---------------------------------------------------------------- C / C++

/** Follows `declarator` fields down to the declared name: `int *Foo::bar(int)` -> `Foo.bar`. */
function declaratorName(node: Node): string | null {
  let current: Node | null = node.childForFieldName('declarator');
  for (let depth = 0; current && depth < 8; depth++) {
    const next: Node | null =
      current.childForFieldName('declarator') ??
      (current.type === 'reference_declarator' ? current.namedChild(0) : null);
    if (!next) break;
    current = next;
  }
  if (!current) return null;
  return current.text.replace(/<[^<>]*>/g, '').replace(/::/g, '.').replace(/\s+/g, '');
}

/** Struct/class/enum specifiers only define something when they have a body. */
function withBody(kind: string, container: boolean): DefRule {
  return (node) => (node.childForFieldName('body') ? { kind, name: nameField(node), container } : null);
}

const C_DEFS: Record<string, DefRule> = {
  function_definition: def('function', false, declaratorName),
  struct_specifier: withBody('struct', false),
  union_specifier: withBody('struct', false),
  enum_specifier: withBody('enum', false),
  type_definition: (node) => {
    const type = node.childForFieldName('type');
    if (!type?.childForFieldName('body')) return null;
    const kind = type.type === 'enum_specifier' ? 'enum' : type.type === 'struct_specifier' ? 'struct' : 'type';
    return { kind, name: declaratorName(node), container: false };
  },
};

const CPP_DEFS: Record<string, DefRule> = {
  ...C_DEFS,
  class_specifier: withBody('class', true),
  struct_specifier: withBody('struct', true),
  union_specifier: withBody('struct', true),
  namespace_definition: def('module', true),
  template_declaration: wrapper(),
};

// ---------------------------------------------------------------- Kotlin

/** The Kotlin grammar has no `name` fields: the name is the first identifier child. */
const kotlinName = (node: Node): string | null =>
  childOfType(node, 'type_identifier', 'simple_identifier')?.text ?? null;

const kotlinClass: DefRule = (node) => {
  let kind = 'class';
  for (const child of node.children) {
    if (child?.type === 'interface') kind = 'interface';
    if (child?.type === 'enum_class_body') kind = 'enum';
  }
  return { kind, name: kotlinName(node), container: true };
};

// ---------------------------------------------------------------- Swift

const SWIFT_KINDS: Record<string, string> = { class: 'class', struct: 'struct', enum: 'enum', extension: 'impl', actor: 'class' };

const swiftClass: DefRule = (node) => {
  const keyword = node.childForFieldName('declaration_kind')?.text ?? 'class';
  const name = node.childForFieldName('name')?.text ?? null;
  return { kind: SWIFT_KINDS[keyword] ?? 'class', name: name ? bareType(name) : null, container: true };
};

// ---------------------------------------------------------------- all languages

export const SYNTAX_SPECS: Readonly<Record<string, SyntaxSpec>> = {
  javascript: { defs: JS_DEFS, prefix: new Set(COMMENTS) },
  typescript: { defs: TS_DEFS, prefix: new Set(COMMENTS) },
  tsx: { defs: TS_DEFS, prefix: new Set(COMMENTS) },
  python: {
    defs: {
      function_definition: def('function'),
      class_definition: def('class', true),
      decorated_definition: wrapper('definition'),
    },
    prefix: new Set(COMMENTS),
  },
  go: {
    defs: {
      function_declaration: def('function'),
      method_declaration: goMethod,
      type_declaration: goType,
    },
    prefix: new Set(COMMENTS),
  },
  rust: {
    defs: {
      function_item: def('function'),
      function_signature_item: def('function'),
      struct_item: def('struct'),
      union_item: def('struct'),
      enum_item: def('enum'),
      type_item: def('type'),
      trait_item: def('trait', true),
      impl_item: rustImpl,
      mod_item: def('module', true),
      macro_definition: def('function'),
    },
    prefix: new Set([...COMMENTS, 'attribute_item']),
  },
  java: {
    defs: {
      class_declaration: def('class', true),
      record_declaration: def('class', true),
      interface_declaration: def('interface', true),
      annotation_type_declaration: def('interface', true),
      enum_declaration: def('enum', true),
      method_declaration: def('method'),
      constructor_declaration: def('method'),
      compact_constructor_declaration: def('method'),
    },
    prefix: new Set(COMMENTS),
  },
  c: { defs: C_DEFS, prefix: new Set(COMMENTS) },
  cpp: { defs: CPP_DEFS, prefix: new Set(COMMENTS) },
  csharp: {
    defs: {
      class_declaration: def('class', true),
      record_declaration: def('class', true),
      record_struct_declaration: def('struct', true),
      struct_declaration: def('struct', true),
      interface_declaration: def('interface', true),
      enum_declaration: def('enum'),
      delegate_declaration: def('type'),
      namespace_declaration: def('module', true),
      file_scoped_namespace_declaration: def('module', true),
      method_declaration: def('method'),
      constructor_declaration: def('method'),
      destructor_declaration: def('method'),
      operator_declaration: () => ({ kind: 'method', name: 'operator', container: false }),
      conversion_operator_declaration: () => ({ kind: 'method', name: 'operator', container: false }),
    },
    prefix: new Set([...COMMENTS]),
  },
  ruby: {
    defs: {
      class: (node) => ({ kind: 'class', name: node.childForFieldName('name')?.text.replace(/::/g, '.') ?? null, container: true }),
      module: (node) => ({ kind: 'module', name: node.childForFieldName('name')?.text.replace(/::/g, '.') ?? null, container: true }),
      method: def('function'),
      singleton_method: def('function'),
    },
    prefix: new Set(COMMENTS),
  },
  php: {
    defs: {
      class_declaration: def('class', true),
      interface_declaration: def('interface', true),
      trait_declaration: def('trait', true),
      enum_declaration: def('enum', true),
      function_definition: def('function'),
      method_declaration: def('method'),
      // `namespace Foo;` (no body) is a plain statement; `namespace Foo { ... }` holds definitions.
      namespace_definition: (node) =>
        node.childForFieldName('body') ? { kind: 'module', name: nameField(node)?.replace(/\\/g, '.') ?? null, container: true } : null,
    },
    prefix: new Set(COMMENTS),
  },
  kotlin: {
    defs: {
      class_declaration: kotlinClass,
      object_declaration: def('class', true, kotlinName),
      companion_object: (node) => ({ kind: 'class', name: kotlinName(node) ?? 'Companion', container: true }),
      function_declaration: def('function', false, kotlinName),
      secondary_constructor: def('method', false, () => 'constructor'),
    },
    prefix: new Set(COMMENTS),
  },
  swift: {
    defs: {
      class_declaration: swiftClass,
      protocol_declaration: def('interface', true),
      function_declaration: def('function'),
      init_declaration: def('method', false, () => 'init'),
      deinit_declaration: def('method', false, () => 'deinit'),
      subscript_declaration: def('method', false, () => 'subscript'),
    },
    prefix: new Set(COMMENTS),
  },
};
