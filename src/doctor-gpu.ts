import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GpuDevice {
  name: string;
  driver: string | null;
  /** As nvidia-smi prints it; "[N/A]" on the GB10, whose memory is unified with the CPU's. */
  memory: string | null;
  compute_capability: string | null;
}

export interface GpuReport {
  visible: boolean;
  /** Where the answer came from: 'nvidia-smi', '/proc/driver/nvidia', or null when neither exists. */
  source: string | null;
  devices: GpuDevice[];
  detail: string;
}

export interface GpuProbeOptions {
  /** Injected for tests; default spawnSync. */
  run?: typeof spawnSync;
  procDir?: string;
}

/** Finds NVIDIA GPUs through nvidia-smi, else the driver's /proc entries. Never throws. */
export function detectGpu(options: GpuProbeOptions = {}): GpuReport {
  const run = options.run ?? spawnSync;
  const procDir = options.procDir ?? '/proc/driver/nvidia';
  const fields = ['name', 'driver_version', 'memory.total', 'compute_cap'];
  let smi = run('nvidia-smi', [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader'], { encoding: 'utf8', timeout: 5_000 });
  if (smi.status !== 0 && !smi.error) {
    // Drivers older than 510 do not know compute_cap.
    smi = run('nvidia-smi', [`--query-gpu=${fields.slice(0, 3).join(',')}`, '--format=csv,noheader'], { encoding: 'utf8', timeout: 5_000 });
  }
  if (smi.status === 0 && typeof smi.stdout === 'string' && smi.stdout.trim() !== '') {
    const devices = smi.stdout.trim().split('\n').map((line): GpuDevice => {
      const [name, driver, memory, cc] = line.split(',').map((s) => s.trim());
      return { name, driver: driver ?? null, memory: memory ?? null, compute_capability: cc ?? null };
    });
    const names = devices.map((d) => `${d.name}${d.compute_capability ? ` (sm_${d.compute_capability.replace('.', '')})` : ''}`);
    return { visible: true, source: 'nvidia-smi', devices, detail: `${names.join(', ')}, driver ${devices[0].driver}` };
  }
  const smiProblem = smi.error ? (smi.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nvidia-smi not found' : `nvidia-smi failed (${smi.error.message})` : `nvidia-smi failed: ${String(smi.stderr ?? smi.stdout ?? '').trim() || `exit ${smi.status}`}`;
  if (existsSync(join(procDir, 'version'))) {
    const version = readFileSync(join(procDir, 'version'), 'utf8').split('\n')[0].trim();
    const gpus = existsSync(join(procDir, 'gpus')) ? readdirSync(join(procDir, 'gpus')) : [];
    const devices = gpus.map((id): GpuDevice => {
      const info = readIfExists(join(procDir, 'gpus', id, 'information'));
      return { name: /Model:\s*(.+)/.exec(info)?.[1]?.trim() ?? id, driver: version, memory: null, compute_capability: null };
    });
    return {
      visible: devices.length > 0,
      source: '/proc/driver/nvidia',
      devices,
      detail: `${smiProblem}; the NVIDIA driver is loaded (${version}) with ${devices.length} GPU(s)`,
    };
  }
  return { visible: false, source: null, devices: [], detail: `no NVIDIA GPU visible: ${smiProblem} and ${procDir} does not exist (no NVIDIA driver loaded, or a container started without --gpus)` };
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
