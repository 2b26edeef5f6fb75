/**
 * The tree-sitter query that finds a file's identifier occurrences, per language: every identifier leaf
 * (@id), the ones a call calls (@call: `f()`, `a.f()`, `A::f()`, `new F()`, `f!()`), and the import
 * statements and decorations around them (as ranges). Written out per grammar (node types read off
 * tree-sitter-wasms 0.1.13): a query costs ~10 ms per pattern to compile, and crossing every call type
 * with every member type made one that took over half a second per language.
 */
import { Query, type Language } from 'web-tree-sitter';

const JS = [
  '[(identifier) (property_identifier) (shorthand_property_identifier) (shorthand_property_identifier_pattern) (type_identifier)] @id',
  '(call_expression function: (identifier) @call)',
  '(call_expression function: (member_expression property: (_) @call))',
  '(new_expression constructor: (identifier) @call)',
  '(new_expression constructor: (member_expression property: (_) @call))',
  '(import_statement) @import',
  '(export_statement source: (_)) @import',
  '(decorator) @decoration',
];
const JS_PLAIN = JS.map((p) => p.replace(' (type_identifier)', ''));

const C = [
  '[(identifier) (field_identifier) (type_identifier)] @id',
  '(call_expression function: (identifier) @call)',
  '(call_expression function: (field_expression field: (_) @call))',
];

const PATTERNS: Readonly<Record<string, readonly string[]>> = {
  javascript: JS_PLAIN,
  typescript: JS,
  tsx: JS,
  python: [
    '(identifier) @id',
    '(call function: (identifier) @call)',
    '(call function: (attribute attribute: (identifier) @call))',
    '[(import_statement) (import_from_statement) (future_import_statement)] @import',
    '(decorator) @decoration',
  ],
  go: [
    '[(identifier) (field_identifier) (package_identifier) (type_identifier)] @id',
    '(call_expression function: (identifier) @call)',
    '(call_expression function: (selector_expression field: (_) @call))',
    '(import_declaration) @import',
  ],
  rust: [
    '[(identifier) (field_identifier) (shorthand_field_identifier) (type_identifier)] @id',
    '(call_expression function: (identifier) @call)',
    '(call_expression function: (field_expression field: (_) @call))',
    '(call_expression function: (scoped_identifier name: (_) @call))',
    '(call_expression function: (generic_function function: (identifier) @call))',
    '(call_expression function: (generic_function function: (scoped_identifier name: (_) @call)))',
    '(call_expression function: (generic_function function: (field_expression field: (_) @call)))',
    '(macro_invocation macro: (identifier) @call)',
    '(macro_invocation macro: (scoped_identifier name: (_) @call))',
    '[(use_declaration) (extern_crate_declaration)] @import',
    '(attribute_item) @decoration',
  ],
  c: [...C, '(preproc_include) @import'],
  cpp: [
    '[(identifier) (field_identifier) (type_identifier) (namespace_identifier)] @id',
    ...C.slice(1),
    '(call_expression function: (qualified_identifier name: (_) @call))',
    '(call_expression function: (template_function name: (_) @call))',
    '(preproc_include) @import',
  ],
  java: [
    '[(identifier) (type_identifier)] @id',
    '(method_invocation name: (_) @call)',
    '(object_creation_expression type: (type_identifier) @call)',
    '(import_declaration) @import',
    '[(annotation) (marker_annotation)] @decoration',
  ],
  csharp: [
    '(identifier) @id',
    '(invocation_expression function: (identifier) @call)',
    '(invocation_expression function: (member_access_expression name: (_) @call))',
    '(object_creation_expression type: (identifier) @call)',
    '(using_directive) @import',
    '(attribute_list) @decoration',
  ],
  ruby: ['[(identifier) (constant)] @id', '(call method: (_) @call)'],
  php: [
    '(name) @id',
    '(function_call_expression function: (name) @call)',
    '(member_call_expression name: (_) @call)',
    '(scoped_call_expression name: (_) @call)',
    '(object_creation_expression (name) @call)',
    '(namespace_use_declaration) @import',
  ],
  kotlin: [
    '[(simple_identifier) (type_identifier)] @id',
    '(call_expression . (simple_identifier) @call)',
    '(call_expression . (navigation_expression (navigation_suffix (simple_identifier) @call)))',
    '(import_header) @import',
    '(annotation) @decoration',
  ],
  swift: [
    '[(simple_identifier) (type_identifier)] @id',
    '(call_expression . (simple_identifier) @call)',
    '(call_expression . (navigation_expression (navigation_suffix (simple_identifier) @call)))',
    '(import_declaration) @import',
  ],
};

const compiled = new Map<string, Query | null>();

/** The compiled query for `language` (cached per process), or null for a language without patterns. */
export function occurrenceQuery(language: string, grammar: Language): Query | null {
  const cached = compiled.get(language);
  if (cached !== undefined) return cached;
  const patterns = PATTERNS[language];
  let query: Query | null = null;
  if (patterns) {
    try {
      query = new Query(grammar, patterns.join('\n'));
    } catch {
      // A grammar that lacks a node type or field (another grammar version): keep the patterns it can run.
      const valid = patterns.filter((pattern) => {
        try {
          new Query(grammar, pattern).delete();
          return true;
        } catch {
          return false;
        }
      });
      query = valid.length > 0 ? new Query(grammar, valid.join('\n')) : null;
    }
  }
  compiled.set(language, query);
  return query;
}

/** For tests: the languages with occurrence patterns, and whether each of their patterns compiles. */
export function patternsOf(language: string): readonly string[] {
  return PATTERNS[language] ?? [];
}
