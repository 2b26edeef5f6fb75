import { parseArgs } from 'node:util';
import { CodecartoError } from '../models/errors/codecarto-error.js';
import { installOrt } from '../models/ort-install.js';

/** `codecarto install-ort <build dir> [--force]`: puts a CUDA build of onnxruntime under onnxruntime-node. */
export async function installOrtCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean' } } });
  const buildDir = positionals[0];
  if (!buildDir) {
    throw new CodecartoError('Usage: codecarto install-ort <onnxruntime build dir> [--force] (build it with scripts/build-ort-cuda-aarch64.sh; see docs/gb10.md).');
  }
  const result = installOrt({ buildDir, force: values.force });
  const lines = [
    `Installed onnxruntime ${result.buildVersion ?? '(version not declared; --force)'} with CUDA into ${result.targetDir}:`,
    ...result.copied.map((c) => `  ${c.file} (${(c.bytes / 1e6).toFixed(1)} MB) <- ${c.from}`),
  ];
  if (result.backupDir) lines.push(`The replaced CPU-only files are in ${result.backupDir}; copy them back to undo.`);
  lines.push('Now run `codecarto doctor` (cuda should say "available").');
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
