/**
 * Install scripts are allowed explicitly in package.json's allowScripts, as npm 11.19 documents (`npm help
 * install-scripts`), so no install warns and `--strict-allow-scripts` (a stricter npm) still builds the native
 * addons; onnxruntime-node's postinstall stays a no-op through .npmrc's skip.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/stdio-client.js';

const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { allowScripts?: Record<string, boolean> };

describe('install scripts', () => {
  it('the native addons and onnxruntime-node are allowed, and its CUDA download is skipped', () => {
    expect(pkg.allowScripts).toMatchObject({ 'better-sqlite3': true, 'hnswlib-node': true, 'onnxruntime-node': true });
    // Allowed because `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` runs it; by default it must do nothing.
    expect(readFileSync(`${repoRoot}/.npmrc`, 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  // npm's own answer, so a dependency added later with an install script nobody reviewed fails here, not only in CI.
  const ls = spawnSync('npm', ['install-scripts', 'ls', '--json', '--offline'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  const unsupported = ls.status !== 0 && /EUNKNOWNCOMMAND|Unknown command/.test(`${ls.stdout}${ls.stderr}`);
  if (unsupported) {
    console.warn(`SKIPPED: npm ${spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim()} has no \`install-scripts\` command, so allowScripts coverage was not checked. Enable: npm >= 11.19 (npm i -g npm@11).`);
  }
  it.skipIf(unsupported)('`npm install-scripts ls` finds no installed package whose install scripts are not reviewed', () => {
    expect(ls.error).toBeUndefined();
    expect(JSON.parse(ls.stdout)).toEqual({ allowScripts: [] });
  });
});
