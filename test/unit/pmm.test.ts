// Pmm (core/vm/pmm.ts) on an in-process kernel, calling its functions directly: frames come off the
// free-frame stack with their owner recorded, go back on it marked free, every frame sits on the
// stack exactly once, and an empty pool gives the "short" results (allocFrame -1; a VMO operation's
// memory wait, and ZX_ERR_NO_MEMORY once reclaim finds nothing) with nothing changed.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_ERR_NO_MEMORY, ZX_OK } from '../../core/index.js';
import type { KernelState } from '../../core/kernel_state.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import { allocFrame, FRAME_FREE, freeFrame, freeFrameCount, isMemoryWait, setFrameOwner, SHOULD_WAIT_FOR_FRAMES, SHOULD_WAIT_FOR_NODES, waitForMemory } from '../../core/vm/pmm.js';
import { committedPages } from '../../core/vm/vm_object.js';
import { ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';

const FRAMES = 16;

function newKernel(): Kernel {
  return Kernel.create({ physicalMemory: FRAMES * PAGE_SIZE, maxThreads: 4, maxHandles: 32, maxObjects: 16, maxPortPackets: 8, maxZeroIntervals: 8, maxMappings: 4, maxPageListNodes: 32 });
}

/** Runs body on a new kernel, then checks its invariants and closes it. */
function withKernel(body: (kernel: Kernel, k: KernelState) => void): void {
  const kernel = newKernel();
  body(kernel, kernel.state);
  kernel.assertInvariants();
  kernel.close();
}

/** A new anonymous VMO's object slot (its handle stays open). */
function anonVmo(kernel: Kernel, pages: number): number {
  const vmo = lookupHandle(kernel.state, kernel.sys.vmoCreate(pages * PAGE_SIZE, 0), ZX_OBJ_TYPE_VMO, 0);
  kernel.state.release(vmo);
  return vmo;
}

/** The free-frame stack as an array, bottom first. */
function freeStack(k: KernelState): number[] {
  const out: number[] = [];
  for (let i = 0; i < k.header.freeFrames(); i++) out.push(k.frameTable.freeStack(i));
  return out;
}

/** '' when every frame is either on the stack once and marked free, or off it and owned; else the first problem. */
function stackProblem(k: KernelState): string {
  const stack = freeStack(k);
  const seen = new Set<number>();
  for (const f of stack) {
    if (f < 0 || f >= k.layout.frameCount) return `frame ${f} on the stack is out of range`;
    if (seen.has(f)) return `frame ${f} is on the stack twice`;
    seen.add(f);
    if (k.frameTable.ownerVmo(f) !== FRAME_FREE) return `frame ${f} on the stack has owner ${k.frameTable.ownerVmo(f)}`;
  }
  for (let f = 0; f < k.layout.frameCount; f++) if (!seen.has(f) && k.frameTable.ownerVmo(f) === FRAME_FREE) return `frame ${f} is marked free but not on the stack`;
  return '';
}

t.test('a new kernel has every frame on the stack once', async (t) => {
  withKernel((_kernel, k) => {
    t.equal(freeFrameCount(k), FRAMES);
    t.equal(stackProblem(k), '');
    t.same([...freeStack(k)].sort((a, b) => a - b), Array.from({ length: FRAMES }, (_, i) => i));
  });
});

t.test('alloc pops the top frame and records its owner; free pushes it back as free', async (t) => {
  withKernel((kernel, k) => {
    const vmo = anonVmo(kernel, 1);
    const top = k.frameTable.freeStack(k.header.freeFrames() - 1);
    const f = allocFrame(k, vmo, 7);
    t.equal(f, top, 'the frame on top of the stack');
    t.equal(freeFrameCount(k), FRAMES - 1);
    t.equal(k.frameTable.ownerVmo(f), vmo);
    t.equal(k.frameTable.ownerPage(f), 7);
    t.equal(stackProblem(k), '');
    // An allocated frame in no page list is what the invariants must catch.
    t.ok(kernel.checkInvariants().some((p) => /leaked/.test(p)), 'a frame owned outside any page list is reported');
    setFrameOwner(k, f, vmo, 3);
    t.equal(k.frameTable.ownerPage(f), 3, 'setFrameOwner moves the back pointer');
    freeFrame(k, f);
    t.equal(freeFrameCount(k), FRAMES);
    t.equal(k.frameTable.ownerVmo(f), FRAME_FREE);
    t.equal(k.frameTable.freeStack(FRAMES - 1), f, 'freed frame is on top again');
    t.equal(stackProblem(k), '');
  });
});

t.test('an empty pool gives -1, distinct frames before that, and a whole stack again after freeing', async (t) => {
  withKernel((kernel, k) => {
    const vmo = anonVmo(kernel, 1);
    const taken: number[] = [];
    for (let i = 0; i < FRAMES; i++) taken.push(allocFrame(k, vmo, i));
    t.equal(new Set(taken).size, FRAMES, 'every frame handed out once');
    t.ok(taken.every((f) => f >= 0 && f < FRAMES));
    t.equal(freeFrameCount(k), 0);
    t.equal(allocFrame(k, vmo, 99), -1, 'short: no frame');
    t.equal(freeFrameCount(k), 0, 'a failed allocation changes nothing');
    t.equal(stackProblem(k), '');
    // Nothing is reclaimable (anonymous pages only), so a waiter for frames is told to give up.
    t.notOk(waitForMemory(k, vmo, 0, 1, SHOULD_WAIT_FOR_FRAMES, 1));
    // Free in a scrambled order: the stack must still hold each frame once.
    for (let i = 0; i < FRAMES; i++) freeFrame(k, taken[(i * 5) % FRAMES]);
    t.equal(freeFrameCount(k), FRAMES);
    t.equal(stackProblem(k), '');
    t.ok(waitForMemory(k, vmo, 0, 1, SHOULD_WAIT_FOR_FRAMES, 1), 'the frames wanted are free: retry at once');
  });
});

t.test('memory waits are the two internal statuses only', async (t) => {
  t.ok(isMemoryWait(SHOULD_WAIT_FOR_FRAMES));
  t.ok(isMemoryWait(SHOULD_WAIT_FOR_NODES));
  t.notOk(isMemoryWait(ZX_ERR_NO_MEMORY));
  t.notOk(isMemoryWait(ZX_OK));
});

t.test('a VMO write with the pool empty fails with NO_MEMORY and changes nothing; one free frame lets it through', async (t) => {
  withKernel((kernel, k) => {
    const sys = kernel.sys;
    const h = sys.vmoCreate(2 * PAGE_SIZE, 0);
    const vmo = lookupHandle(k, h, ZX_OBJ_TYPE_VMO, 0);
    k.release(vmo);
    sys.vmoWrite(h, new Uint8Array([1]), 0); // page 0 committed
    t.equal(committedPages(k, vmo), 1);
    const hog = anonVmo(kernel, 1);
    const taken: number[] = [];
    for (let f = allocFrame(k, hog, 0); f >= 0; f = allocFrame(k, hog, 0)) taken.push(f);
    t.equal(freeFrameCount(k), 0);
    let status: number = ZX_OK;
    try {
      sys.vmoWrite(h, new Uint8Array([2]), PAGE_SIZE);
    } catch (e) {
      status = (e as { status?: number }).status ?? ZX_OK;
    }
    t.equal(status, ZX_ERR_NO_MEMORY, 'the pool is short and nothing is reclaimable');
    t.equal(committedPages(k, vmo), 1, 'the failed write committed nothing');
    t.equal(freeFrameCount(k), 0, 'and took no frame');
    freeFrame(k, taken.pop()!);
    sys.vmoWrite(h, new Uint8Array([2]), PAGE_SIZE);
    t.equal(committedPages(k, vmo), 2);
    t.equal(freeFrameCount(k), 0);
    for (const f of taken) freeFrame(k, f);
    t.equal(stackProblem(k), '');
    kernel.assertInvariants();
    sys.handleClose(h);
    t.equal(freeFrameCount(k), FRAMES, 'closing the VMO returns its frames');
    t.equal(stackProblem(k), '');
  });
});
