// MP3 input checks done before the decoder sees a byte. mpg123 rejects
// nothing on its own: random bytes, a WAV or an empty buffer all "decode" to
// noise or to a nonsense sample rate, so the stream is walked here frame by
// frame (ID3v2 tag, frame syncs, frame lengths, Xing/Info frame count) and
// anything that is not MPEG audio becomes one clear error naming the file.
// Browser-safe: bytes in, facts out.

/** An input problem: one line that names the file and what is wrong. */
export class AudioFileError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`sleeve: ${file}: ${problem}`);
    this.name = 'AudioFileError';
  }
}

export interface MpegHeader {
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  /** kbit/s */
  bitrate: number;
  sampleRate: number;
  channels: 1 | 2;
  padding: number;
  frameBytes: number;
  samplesPerFrame: number;
}

/** Every sample rate an MPEG-1/2/2.5 frame header can name. */
export const MPEG_SAMPLE_RATES = [44100, 48000, 32000, 22050, 24000, 16000, 11025, 12000, 8000] as const;

const RATES: Record<string, number[]> = { '1': [44100, 48000, 32000], '2': [22050, 24000, 16000], '2.5': [11025, 12000, 8000] };
const KBPS = {
  v1l1: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  v1l2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  v1l3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2l1: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  v2l23: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

/** The MPEG audio frame header at byte i, or null when there is none. Free-format
 * streams (bitrate index 0) are refused: their frame length cannot be known. */
export function parseHeader(b: Uint8Array, i: number): MpegHeader | null {
  if (i + 4 > b.length) return null;
  const b1 = b[i + 1], b2 = b[i + 2], b3 = b[i + 3];
  if (b[i] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const vBits = (b1 >> 3) & 3, lBits = (b1 >> 1) & 3, brIdx = b2 >> 4, srIdx = (b2 >> 2) & 3;
  if (vBits === 1 || lBits === 0 || brIdx === 0 || brIdx === 15 || srIdx === 3 || (b3 & 3) === 2) return null;
  const version = vBits === 3 ? 1 : vBits === 2 ? 2 : 2.5;
  const layer = (4 - lBits) as 1 | 2 | 3;
  const table = version === 1 ? (layer === 1 ? KBPS.v1l1 : layer === 2 ? KBPS.v1l2 : KBPS.v1l3) : layer === 1 ? KBPS.v2l1 : KBPS.v2l23;
  const bitrate = table[brIdx];
  const sampleRate = RATES[String(version)][srIdx];
  const padding = (b2 >> 1) & 1;
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
  const frameBytes = layer === 1
    ? (Math.floor((12 * bitrate * 1000) / sampleRate) + padding) * 4
    : Math.floor(((samplesPerFrame / 8) * bitrate * 1000) / sampleRate) + padding;
  return { version, layer, bitrate, sampleRate, channels: b3 >> 6 === 3 ? 1 : 2, padding, frameBytes, samplesPerFrame };
}

function sameStream(a: MpegHeader, b: MpegHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/** Bytes taken by an ID3v2 tag at i (header, body, footer), or 0. */
export function id3v2Size(b: Uint8Array, i: number): number {
  if (i + 10 > b.length || b[i] !== 0x49 || b[i + 1] !== 0x44 || b[i + 2] !== 0x33) return 0;
  if (b[i + 3] === 0xff || b[i + 4] === 0xff) return 0;
  const s = b.subarray(i + 6, i + 10);
  if (s.some((x) => x & 0x80)) return 0;
  const body = (s[0] << 21) | (s[1] << 14) | (s[2] << 7) | s[3];
  return 10 + body + (b[i + 5] & 0x10 ? 10 : 0);
}

const ascii = (b: Uint8Array, i: number, n: number): string => String.fromCharCode(...b.subarray(i, i + n));

/** What the bytes look like when they are not MPEG audio: named formats, text, or the first bytes. */
export function sniff(b: Uint8Array): string {
  const at = (i: number, s: string) => ascii(b, i, s.length) === s;
  if (at(0, 'RIFF') && at(8, 'WAVE')) return 'a WAV file (RIFF/WAVE header), not MP3';
  if (at(0, 'RIFF')) return 'a RIFF container, not MP3';
  if (at(0, 'FORM') && (at(8, 'AIFF') || at(8, 'AIFC'))) return 'an AIFF file, not MP3';
  if (at(0, 'fLaC')) return 'a FLAC file, not MP3';
  if (at(0, 'OggS')) return 'an Ogg file (Vorbis/Opus), not MP3';
  if (at(4, 'ftyp')) return 'an MP4/M4A file, not MP3';
  if (b[0] === 0x89 && at(1, 'PNG')) return 'a PNG image, not MP3';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'a JPEG image, not MP3';
  if (at(0, 'GIF8')) return 'a GIF image, not MP3';
  if (at(0, '%PDF')) return 'a PDF document, not MP3';
  if (at(0, 'PK\x03\x04')) return 'a ZIP archive, not MP3';
  const head = b.subarray(0, 512);
  const printable = head.filter((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127)).length;
  if (head.length && printable / head.length > 0.95) {
    const text = ascii(b, 0, Math.min(24, b.length)).replace(/\s+/g, ' ').trim();
    return `text ("${text}${b.length > 24 ? '…' : ''}"), not MP3`;
  }
  const hex = [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return `not MP3: no ID3v2 tag and no MPEG audio frame sync at the start (first bytes: ${hex})`;
}

export interface StreamInfo {
  /** Bytes of ID3v2 tag(s) (and zero padding) before the first frame. */
  tagBytes: number;
  /** Byte range of the MPEG frames, including a partial last frame. */
  audioStart: number;
  audioEnd: number;
  first: MpegHeader;
  /** Complete frames found, the Xing/Info/VBRI frame included. */
  frames: number;
  /** Audio frames promised by a Xing/Info/VBRI header, if there is one. */
  promisedFrames: number | null;
  /** Whether frame 0 is a Xing/Info/VBRI header (decodes to no audio). */
  tagFrame: boolean;
  vbr: boolean;
  /** Bytes skipped inside the stream to find the next frame. */
  junkBytes: number;
  /** A short trailing tag seen after the frames: 'ID3v1', 'APEv2', 'Lyrics3'. */
  trailer: string | null;
  /** Set when the stream ends early: how and where. */
  truncated: string | null;
}

/** Frames needed in a row before a sync is believed (random bytes rarely give two). */
function confirmed(b: Uint8Array, i: number): MpegHeader | null {
  const h = parseHeader(b, i);
  if (!h) return null;
  const j = i + h.frameBytes;
  if (j + 4 > b.length) return h; // the file ends within or right after this frame
  const h2 = parseHeader(b, j);
  return h2 && sameStream(h, h2) ? h : null;
}

function xingFrames(b: Uint8Array, i: number, h: MpegHeader): number | null | undefined {
  // Xing/Info sit after the side information of the first layer III frame;
  // VBRI (Fraunhofer) sits 32 bytes after the header.
  const side = h.version === 1 ? (h.channels === 2 ? 32 : 17) : h.channels === 2 ? 17 : 9;
  const x = i + 4 + side;
  const tag = ascii(b, x, 4);
  if (tag === 'Xing' || tag === 'Info') {
    const flags = (b[x + 4] << 24) | (b[x + 5] << 16) | (b[x + 6] << 8) | b[x + 7];
    if (flags & 1) return ((b[x + 8] << 24) | (b[x + 9] << 16) | (b[x + 10] << 8) | b[x + 11]) >>> 0;
    return null;
  }
  if (ascii(b, i + 36, 4) === 'VBRI') return ((b[i + 50] << 24) | (b[i + 51] << 16) | (b[i + 52] << 8) | b[i + 53]) >>> 0;
  return undefined; // no tag frame
}

function trailerAt(b: Uint8Array, i: number): string | null {
  const rest = b.length - i;
  if (ascii(b, i, 3) === 'TAG' && rest <= 128 + 256) return 'ID3v1';
  if (ascii(b, i, 8) === 'APETAGEX') return 'APEv2';
  if (ascii(b, i, 11) === 'LYRICSBEGIN') return 'Lyrics3';
  if (id3v2Size(b, i) > 0) return 'ID3v2 (appended)';
  return null;
}

/**
 * Walk an MP3 file's structure. Throws AudioFileError for anything that is
 * not MPEG audio; reports (does not throw for) a stream that ends early.
 */
export function inspectMpeg(b: Uint8Array, file: string): StreamInfo {
  if (b.length === 0) throw new AudioFileError(file, 'file is empty (0 bytes)');
  // ID3v2 tag(s), then any zero padding writers leave after them
  let i = 0;
  for (let n; (n = id3v2Size(b, i)) > 0; ) {
    if (i + n > b.length) {
      throw new AudioFileError(file, `ID3v2 tag claims ${i + n} bytes but the file has only ${b.length}: truncated inside its tag, no audio`);
    }
    i += n;
  }
  const tagBytes0 = i;
  if (i > 0) while (i < b.length && b[i] === 0) i++;
  if (i >= b.length) throw new AudioFileError(file, `contains only an ID3v2 tag (${tagBytes0} bytes) and no MPEG audio frames`);
  const first = confirmed(b, i);
  if (!first) {
    if (i > 0) throw new AudioFileError(file, `has an ID3v2 tag (${tagBytes0} bytes) but no MPEG audio frame after it (the data there is ${sniff(b.subarray(i)).replace(/, not MP3$/, '')})`);
    throw new AudioFileError(file, `is ${sniff(b)}`);
  }
  const audioStart = i;
  if (audioStart + first.frameBytes > b.length) {
    throw new AudioFileError(file, `is truncated: its ${b.length} bytes end inside the first MPEG frame (${first.frameBytes} bytes), no audio to decode`);
  }
  const xing = first.layer === 3 ? xingFrames(b, i, first) : undefined;
  const info: StreamInfo = {
    tagBytes: tagBytes0, audioStart, audioEnd: b.length, first, frames: 0, promisedFrames: xing ?? null,
    tagFrame: xing !== undefined, vbr: false, junkBytes: 0, trailer: null, truncated: null,
  };
  while (i < b.length) {
    const h = parseHeader(b, i);
    if (h && sameStream(h, first)) {
      if (i + h.frameBytes > b.length) {
        info.truncated = `the last frame is cut short (${b.length - i} of ${h.frameBytes} bytes)`;
        break;
      }
      if (h.bitrate !== first.bitrate) info.vbr = true;
      info.frames++;
      i += h.frameBytes;
      continue;
    }
    const tail = trailerAt(b, i);
    if (tail) {
      info.trailer = tail;
      info.audioEnd = i;
      break;
    }
    // lost sync: look for the next confirmed frame, as the decoder will
    let j = i + 1;
    while (j < b.length) {
      const c = confirmed(b, j);
      if (c && sameStream(c, first)) break;
      j++;
    }
    if (j >= b.length) {
      // nothing after: a partial header at the very end is a cut, else trailing junk
      if (b.length - i < 4) info.truncated = `the file ends inside a frame header (${b.length - i} bytes)`;
      else info.junkBytes += b.length - i;
      info.audioEnd = i;
      break;
    }
    info.junkBytes += j - i;
    i = j;
  }
  const audioFrames = info.frames - (info.tagFrame ? 1 : 0);
  if (info.tagFrame && info.promisedFrames !== null && audioFrames < info.promisedFrames) {
    const missing = `${audioFrames} of the ${info.promisedFrames} frames its Xing/Info header promises are present`;
    info.truncated = info.truncated ? `${info.truncated}; ${missing}` : missing;
  }
  if (info.frames === 0) {
    throw new AudioFileError(file, 'has no complete MPEG audio frame');
  }
  return info;
}
