// MP3 bytes → PCM with mpg123-decoder (WebAssembly: the same code in Node and,
// bundled, in a browser). The stream is checked first (validate.ts), the
// decoder's own console chatter is captured instead of printed, and its
// result is checked again: samples decoded, a sample rate from the MPEG
// table, and few enough decoder errors.
import { MPEGDecoder } from 'mpg123-decoder';
import { AudioFileError, inspectMpeg, MPEG_SAMPLE_RATES, type StreamInfo } from './validate.js';

export interface DecodeOptions {
  /** Decoder errors allowed, as a fraction of the stream's frames, before the
   * file is refused (below it they become a warning). Default 0.01. */
  maxErrorFraction?: number;
}

export interface DecodedAudio {
  /** One array per channel (mpg123 returns mono as two equal channels; they are kept as one). */
  channels: Float32Array[];
  sampleRate: number;
  /** Samples per channel. */
  length: number;
  info: StreamInfo;
  /** Things worth telling the user that do not stop the pipeline (truncation, junk, decoder errors). */
  warnings: string[];
}

interface DecoderError {
  message: string;
}

/** Run fn with console.log/warn/error/info/debug captured (the decoder prints to them). */
function captured<T>(fn: () => T): { value: T; lines: string[] } {
  const lines: string[] = [];
  const keys = ['log', 'warn', 'error', 'info', 'debug'] as const;
  const saved = keys.map((k) => console[k]);
  for (const k of keys) console[k] = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    return { value: fn(), lines };
  } finally {
    keys.forEach((k, i) => (console[k] = saved[i]));
  }
}

const seconds = (n: number, rate: number) => `${(n / rate).toFixed(2)} s`;

/** Decode MP3 bytes; `file` names the input in every message. */
export async function decodeMp3(bytes: Uint8Array, file = 'input', opts: DecodeOptions = {}): Promise<DecodedAudio> {
  const info = inspectMpeg(bytes, file);
  const warnings: string[] = [];
  const decoder = new MPEGDecoder();
  let ready = false;
  try {
    await decoder.ready;
    ready = true;
    const { value: out, lines } = captured(() => decoder.decode(bytes.subarray(info.audioStart, info.audioEnd)));
    const errors = out.errors as DecoderError[];
    const firstComplaint = errors[0]?.message ?? lines[0];
    if (!out.samplesDecoded) {
      throw new AudioFileError(file, `no audio could be decoded from ${info.frames} MPEG frames${firstComplaint ? ` (decoder: ${firstComplaint})` : ''}`);
    }
    if (!(MPEG_SAMPLE_RATES as readonly number[]).includes(out.sampleRate) || out.sampleRate !== info.first.sampleRate) {
      throw new AudioFileError(file, `decoder reported a sample rate of ${out.sampleRate} Hz where the frame headers say ${info.first.sampleRate} Hz`);
    }
    const maxFrac = opts.maxErrorFraction ?? 0.01;
    if (errors.length > maxFrac * info.frames) {
      throw new AudioFileError(file, `is corrupt: the decoder reported ${errors.length} errors in ${info.frames} frames (first: ${firstComplaint})`);
    }
    if (errors.length) warnings.push(`${file}: the decoder reported ${errors.length} error(s) in ${info.frames} frames (first: ${firstComplaint}); decoding went on`);
    const nch = info.first.channels;
    const channels = out.channelData.slice(0, nch).map((c) => c.subarray(0, out.samplesDecoded));
    for (const c of channels) {
      for (let i = 0; i < c.length; i++) if (!Number.isFinite(c[i])) throw new AudioFileError(file, `decoded audio holds a non-finite sample at ${i}`);
    }
    if (info.truncated) {
      const promised = info.promisedFrames !== null ? `; complete, it would be ${seconds(info.promisedFrames * info.first.samplesPerFrame, out.sampleRate)}` : '';
      warnings.push(`${file}: looks truncated: ${info.truncated}; decoded ${seconds(out.samplesDecoded, out.sampleRate)}${promised}`);
    }
    if (info.junkBytes) warnings.push(`${file}: ${info.junkBytes} bytes inside the stream are not MPEG frames and were skipped`);
    return { channels, sampleRate: out.sampleRate, length: out.samplesDecoded, info, warnings };
  } finally {
    if (ready) captured(() => decoder.free());
  }
}

/** Mono mixdown: the mean of the channels (librosa's to_mono). */
export function toMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  const k = 1 / channels.length;
  for (const c of channels) for (let i = 0; i < n; i++) out[i] += c[i];
  for (let i = 0; i < n; i++) out[i] *= k;
  return out;
}
