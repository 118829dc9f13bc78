// Smoke test of the benchmarks: every suite runs once with tiny iteration counts (no timing is
// asserted; bench/RESULTS.md holds the measured figures), so `npm run bench` cannot rot.

import t from 'tap';
import { runAll } from '../../bench/run.js';

t.setTimeout(180_000);

t.test('every bench suite runs once', async (t) => {
  const r = await runAll({ quick: true });
  t.ok(r.figures.length >= 10, `${r.figures.length} figures`);
  t.ok(r.throughput.length >= 4, `${r.throughput.length} throughput rows`);
  for (const f of r.figures) t.ok(Number.isFinite(f.medianUs) && Number.isFinite(f.baseline.medianUs), `${f.figure}: a median and its baseline's`);
});
