// The trace ring's publish protocol (core/trace.ts): a reader polling while threads append must
// never take, and then skip past, an event whose slot is reserved but not yet written. The test
// reserves a slot by hand (as a writer between its Atomics.add and its publishing store would have)
// and checks that readTrace stops before it and returns it, and what follows, once it is written.

import t from 'tap';
import { Kernel, TraceEvent } from '../../core/index.js';
import { traceEvent } from '../../core/trace.js';
import { H_TRACE_HEAD, TRACE_EVENT_WORDS } from '../../shared/layout.js';

t.test('readTrace returns only the published prefix', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 1 << 20, traceEvents: 64 });
  t.teardown(() => kernel.close());
  const k = kernel.state;
  const base = kernel.readTrace().events.length;
  traceEvent(k, TraceEvent.Supply, 7, 1, 2);
  // A writer that has reserved the next slot but not yet written it.
  const reserved = Atomics.add(k.w, H_TRACE_HEAD, 1);
  traceEvent(k, TraceEvent.Fail, 7, 3, 4, -5);
  const before = kernel.readTrace().events;
  t.equal(before.length, base + 1, 'the read stops at the reserved slot');
  t.equal(before[base].type, TraceEvent.Supply, 'the event before it is there');

  // The writer finishes: fields, then the type.
  const f = k.traceF64!;
  const b = reserved * (TRACE_EVENT_WORDS / 2);
  f[b + 1] = 7;
  f[b + 2] = 9;
  Atomics.store(k.w, k.layout.trace + reserved * TRACE_EVENT_WORDS, TraceEvent.Dirty);
  const after = kernel.readTrace().events;
  t.same(after.slice(base).map((e) => e.type), [TraceEvent.Supply, TraceEvent.Dirty, TraceEvent.Fail], 'all three, in append order');
  t.same(after[base + 2].a.slice(0, 4), [7, 3, 4, -5], 'the later event kept its fields');
});
