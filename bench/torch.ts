// PyTorch peers through bench/torch_bench.py: one Python process runs every
// workload (torch-cpu with threads = cores; torch-cuda when CUDA is there; and
// numpy-cpu, the float64 NumPy/SciPy reference, where it has one) and returns
// timings and output samples as JSON.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Samples } from './engine.js';
import type { Workload } from './workloads.js';

export interface TorchCell {
  workload: string;
  engine: string;
  times_ms?: number[];
  cold?: boolean;
  /** runs queued per timed sample (times are per run) */
  batch?: number;
  samples?: Samples;
  unsupported?: string;
  error?: string;
}

export interface TorchRun {
  cells: TorchCell[];
  notes: string[];
}

export function pythonPath(): string {
  if (process.env.SLEEVE_PYTHON) return process.env.SLEEVE_PYTHON;
  // Debian's python3-torch lives with the system interpreter, which a pyenv
  // python3 earlier on PATH would hide
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export async function runTorch(script: string, workloads: Workload[], opts: {
  engines: string[]; warmup: number; runs: number; capMs: number; budgetS: number;
}): Promise<TorchRun> {
  const py = pythonPath();
  const spec = {
    engines: opts.engines,
    warmup: opts.warmup,
    runs: opts.runs,
    cap_ms: opts.capMs,
    budget_s: opts.budgetS,
    workloads: workloads.map((w) => ({ name: w.name, inputs: w.inputs, cfg: w.cfg, samples: w.samples })),
  };
  return new Promise((resolve) => {
    const child = spawn(py, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      process.stderr.write(d);
    });
    child.on('error', (e) => resolve({ cells: [], notes: [`torch skipped: cannot run ${py} (${e.message}); set SLEEVE_PYTHON to a Python with torch`] }));
    child.on('close', (code) => {
      let parsed: {
        error?: string; torch?: string | null; torch_error?: string | null; threads?: number | null; cuda?: string | null; cuda_settings?: string | null;
        numpy?: string; scipy?: string; results?: TorchCell[];
      };
      try {
        parsed = JSON.parse(out.trim().split('\n').pop() ?? '');
      } catch {
        resolve({ cells: [], notes: [`torch skipped: ${py} ${script} exited ${code} without a result (${err.trim().split('\n').pop() ?? ''})`] });
        return;
      }
      if (parsed.error) {
        resolve({ cells: [], notes: [`torch skipped: ${parsed.error} (with ${py}; set SLEEVE_PYTHON to a Python with torch)`] });
        return;
      }
      const notes = [parsed.torch
        ? `torch ${parsed.torch} (${py}), ${parsed.threads} threads${parsed.cuda ? `, CUDA: ${parsed.cuda}${parsed.cuda_settings ? ` (${parsed.cuda_settings})` : ''}` : ', no CUDA'}`
        : `torch skipped: ${parsed.torch_error} (with ${py}; set SLEEVE_PYTHON to a Python with torch)`];
      if (parsed.numpy) notes.push(`numpy-cpu: NumPy ${parsed.numpy}, SciPy ${parsed.scipy} (${py}), float64, test/ref/audio_ref.py as written, the libraries' own threading`);
      resolve({ cells: parsed.results ?? [], notes });
    });
    child.stdin.end(JSON.stringify(spec));
  });
}
