// A log-linear (HDR-style) latency histogram in shared memory: any thread records with one
// Atomics.add, so no per-thread histograms need merging. Values are nanoseconds; buckets are
// SUB_BUCKETS per power of two (3 significant binary digits of 7 bits: < 1% relative error).

export const SUB_BUCKET_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const MAGNITUDES = 40; // up to 2^40 ns ≈ 18 minutes
export const HISTOGRAM_WORDS = SUB_BUCKETS * MAGNITUDES + 4; // + count, max (two words), spare
const COUNT = SUB_BUCKETS * MAGNITUDES;
const MAX_LO = COUNT + 1;
const MAX_HI = COUNT + 2;

function bucketOf(ns: number): number {
  if (ns < SUB_BUCKETS) return Math.max(0, Math.floor(ns));
  // Below 2^31 ns (2.1 s) the magnitude is a clz32 and the scaling a shift: the common case.
  const small = ns < 2 ** 31;
  const mag = (small ? 31 - Math.clz32(ns) : Math.floor(Math.log2(ns))) - SUB_BUCKET_BITS + 1;
  const sub = (small ? (ns | 0) >>> mag : Math.floor(ns / 2 ** mag)) - SUB_BUCKETS / 2;
  return Math.min(COUNT - 1, mag * (SUB_BUCKETS / 2) + SUB_BUCKETS / 2 + sub);
}

function valueOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const mag = Math.floor((bucket - SUB_BUCKETS / 2) / (SUB_BUCKETS / 2));
  const sub = bucket - SUB_BUCKETS / 2 - mag * (SUB_BUCKETS / 2);
  return (sub + SUB_BUCKETS / 2) * 2 ** mag;
}

/** Records one value (ns) into the histogram at word `base` of `w`. */
export function histogramRecord(w: Int32Array, base: number, ns: number): void {
  Atomics.add(w, base + bucketOf(ns), 1);
  Atomics.add(w, base + COUNT, 1);
  const v = Math.min(ns, 2 ** 52);
  // Max kept as two 26-bit halves; a racing update may lose a max now and then, never corrupt it.
  const hi = Math.floor(v / 2 ** 26);
  const lo = v - hi * 2 ** 26;
  const curHi = Atomics.load(w, base + MAX_HI);
  if (hi > curHi || (hi === curHi && lo > Atomics.load(w, base + MAX_LO))) {
    Atomics.store(w, base + MAX_HI, hi);
    Atomics.store(w, base + MAX_LO, lo);
  }
}

export interface HistogramSummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Percentiles (ns) of the histogram at word `base`. */
export function histogramSummary(w: Int32Array, base: number): HistogramSummary {
  const count = Atomics.load(w, base + COUNT);
  const max = Atomics.load(w, base + MAX_HI) * 2 ** 26 + Atomics.load(w, base + MAX_LO);
  const at = (q: number): number => {
    if (count === 0) return 0;
    const target = Math.ceil(q * count);
    let seen = 0;
    for (let b = 0; b < COUNT; b++) {
      seen += Atomics.load(w, base + b);
      if (seen >= target) return Math.min(valueOf(b), max);
    }
    return max;
  };
  return { count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max };
}
