// f64 references for the FFT ops: direct O(N²) DFTs (the definition, with
// exact angle reduction (k·n mod N) so large N loses no accuracy to the
// argument of cos/sin), and an f64 radix-2 FFT for sizes where N² is too slow.
// Complex data is interleaved [..., N, 2] like the runtime's tensors.

function unitRoots(N: number): { c: Float64Array; s: Float64Array } {
  const c = new Float64Array(N), s = new Float64Array(N);
  for (let t = 0; t < N; t++) {
    c[t] = Math.cos((2 * Math.PI * t) / N);
    s[t] = Math.sin((2 * Math.PI * t) / N);
  }
  return { c, s };
}

/** DFT of every frame of N complex points: X[k] = scale·Σ x[n] e^{sign·2πi kn/N}. */
export function dft(x: ArrayLike<number>, N: number, inverse = false): Float64Array {
  const frames = x.length / (2 * N);
  const out = new Float64Array(x.length);
  const { c, s } = unitRoots(N);
  const sg = inverse ? 1 : -1;
  const scale = inverse ? 1 / N : 1;
  for (let f = 0; f < frames; f++) {
    const b = 2 * f * N;
    for (let k = 0; k < N; k++) {
      let re = 0, im = 0;
      for (let n = 0, t = 0; n < N; n++, t = t + k >= N ? t + k - N : t + k) {
        const xr = x[b + 2 * n], xi = x[b + 2 * n + 1];
        const wr = c[t], wi = sg * s[t];
        re += xr * wr - xi * wi;
        im += xr * wi + xi * wr;
      }
      out[b + 2 * k] = re * scale;
      out[b + 2 * k + 1] = im * scale;
    }
  }
  return out;
}

/** Bins 0..N/2 of the DFT of every frame of N real samples: [..., N] → [..., N/2 + 1, 2]. */
export function rdft(x: ArrayLike<number>, N: number): Float64Array {
  const frames = x.length / N;
  const m = N / 2;
  const out = new Float64Array(frames * (m + 1) * 2);
  const { c, s } = unitRoots(N);
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k <= m; k++) {
      let re = 0, im = 0;
      for (let n = 0, t = 0; n < N; n++, t = t + k >= N ? t + k - N : t + k) {
        re += x[f * N + n] * c[t];
        im -= x[f * N + n] * s[t];
      }
      out[2 * (f * (m + 1) + k)] = re;
      out[2 * (f * (m + 1) + k) + 1] = im;
    }
  }
  return out;
}

/**
 * numpy.fft.irfft(X, n) over the last complex axis: bins cropped or
 * zero-padded to n/2 + 1, Hermitian completion, imaginary parts of DC and
 * Nyquist ignored, normalised by 1/n. X is [..., bins, 2] → [..., n].
 */
export function irdft(X: ArrayLike<number>, bins: number, n: number): Float64Array {
  const frames = X.length / (2 * bins);
  const m = n / 2;
  const out = new Float64Array(frames * n);
  const { c, s } = unitRoots(n);
  const bin = (f: number, k: number, im: number): number => (k < bins ? X[2 * (f * bins + k) + im] : 0);
  for (let f = 0; f < frames; f++) {
    for (let j = 0; j < n; j++) {
      let v = bin(f, 0, 0) + (j % 2 ? -1 : 1) * bin(f, m, 0);
      for (let k = 1, t = j; k < m; k++, t = t + j >= n ? t + j - n : t + j) {
        v += 2 * (bin(f, k, 0) * c[t] - bin(f, k, 1) * s[t]);
      }
      out[f * n + j] = v / n;
    }
  }
  return out;
}

/** f64 radix-2 FFT (unnormalised forward) of every frame: for sizes where O(N²) is too slow. */
export function fftFast(x: ArrayLike<number>, N: number): Float64Array {
  const frames = x.length / (2 * N);
  const out = Float64Array.from(x);
  const { c, s } = unitRoots(N);
  const bits = Math.log2(N);
  for (let f = 0; f < frames; f++) {
    const b = 2 * f * N;
    for (let i = 0; i < N; i++) {
      let r = 0;
      for (let q = 0; q < bits; q++) r |= ((i >> q) & 1) << (bits - 1 - q);
      if (r > i) {
        for (const o of [0, 1]) {
          const t = out[b + 2 * i + o];
          out[b + 2 * i + o] = out[b + 2 * r + o];
          out[b + 2 * r + o] = t;
        }
      }
    }
    for (let len = 2; len <= N; len *= 2) {
      const step = N / len;
      for (let i = 0; i < N; i += len) {
        for (let j = 0; j < len / 2; j++) {
          const wr = c[j * step], wi = -s[j * step];
          const u = b + 2 * (i + j), v = b + 2 * (i + j + len / 2);
          const tr = out[v] * wr - out[v + 1] * wi, ti = out[v] * wi + out[v + 1] * wr;
          out[v] = out[u] - tr;
          out[v + 1] = out[u + 1] - ti;
          out[u] += tr;
          out[u + 1] += ti;
        }
      }
    }
  }
  return out;
}

/** |z|² of interleaved complex values. */
export function abs2(X: ArrayLike<number>): Float64Array {
  const out = new Float64Array(X.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = X[2 * i] ** 2 + X[2 * i + 1] ** 2;
  return out;
}
