import { Parser, Language } from 'web-tree-sitter';
import { readFileSync } from 'node:fs';
await Parser.init();
const [grammar, file] = process.argv.slice(2);
const l = await Language.load(`node_modules/tree-sitter-wasms/out/tree-sitter-${grammar}.wasm`);
const p = new Parser(); p.setLanguage(l);
const t = p.parse(readFileSync(file,'utf8'));
function dump(n, d, field) { if (d > +(process.env.DEPTH ?? 4)) return; if (!n.isNamed) return;
  console.log('  '.repeat(d) + (field? field+': ':'') + n.type + ` [${n.startPosition.row+1}-${n.endPosition.row+1}]` + (n.childCount===0 ? ' '+JSON.stringify(n.text.slice(0,30)) : ''));
  for (let i=0;i<n.childCount;i++) dump(n.child(i), d+1, n.fieldNameForChild(i)); }
dump(t.rootNode, 0);
