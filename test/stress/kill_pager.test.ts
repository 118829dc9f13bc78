// pagersim stress --kill-pager-at: the pager service runs in a process of its own; zx_task_kill of that
// process mid-run ends the service at a syscall boundary and closes its pager handle, so every
// faulting thread must end its waits with ZX_ERR_BAD_STATE (never hang), the process must exit, the
// kernel's invariants must hold, and the run stays clean (the lost-write check is skipped, as after
// --close-pager-at: nothing can be written back without the pager).

import t from 'tap';
import { parseStressArgs } from '../../cli/stress/command.js';
import { runStress } from '../../cli/stress/run.js';

function scenario(argv: string[]) {
  const r = parseStressArgs(argv);
  if (typeof r === 'string') throw new Error(r);
  return r.scenario;
}

t.test('--kill-pager-at: threads end their waits with BAD_STATE, the process exits, the run is clean', async (t) => {
  const result = await runStress(scenario(['--threads', '2', '--vmos', '1', '--vmo-pages', '32', '--physical-memory', '96KiB', '--duration', '2s', '--kill-pager-at', '300ms', '--progress', 'none', '--seed', '11']));
  t.equal(result.clean, true, `no violations: ${result.violations.map((v) => v.detail).join('; ')}`);
  t.ok((result.ops.failedByStatus['ZX_ERR_BAD_STATE'] ?? 0) > 0, `operations after the kill failed with ZX_ERR_BAD_STATE (${result.ops.failedByStatus['ZX_ERR_BAD_STATE'] ?? 0})`);
  t.match(result.checksSkipped.join('; '), /lost-write/, 'the lost-write check is skipped, and said so');
});

t.test('--kill-pager-at is one mid-run event among detach and close-pager', async (t) => {
  t.match(String(parseStressArgs(['--kill-pager-at', '1s', '--close-pager-at', '2s'])), /choose one mid-run event/);
  t.match(String(parseStressArgs(['--kill-pager-at', 'soon'])), /--kill-pager-at/);
});
