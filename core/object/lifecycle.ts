// Object lifecycle hooks: what happens when an object's last handle closes (on_zero_handles) and
// when its last reference goes (destruction). Installed on every thread's KernelState at attach.
// A VMO dies in two steps, as in Zircon: its last reference (handles, mappings, syscalls in flight)
// runs the dead transition - its page source closes, queueing the COMPLETE, and its pages go - and
// the record, which is also its PagerProxy, is freed when the last record reference (a queued
// packet, a waiting fault) goes. A VMO has nothing to do on zero handles.

import { ObjType } from '../../shared/layout.js';
import type { KernelState } from '../kernel_state.js';
import { freeVmoPacket, vmoDeadTransition } from '../vm/vm_object.js';
import { freeObject } from './handle_table.js';
import { pagerOnZeroHandles, pagerUnlinkVmo } from './pager_dispatcher.js';
import { portOnZeroHandles } from './port_dispatcher.js';

export function installLifecycle(k: KernelState): void {
  k.onZeroHandles = (obj) => {
    switch (k.objects.type(obj)) {
      case ObjType.Port:
        portOnZeroHandles(k, obj);
        break;
      case ObjType.Pager:
        pagerOnZeroHandles(k, obj);
        break;
    }
  };
  k.freeVmoRecord = (vmo) => {
    const pager = k.vmos.pager(vmo);
    const port = k.vmos.port(vmo);
    freeVmoPacket(k, vmo);
    if (pager >= 0) pagerUnlinkVmo(k, pager, vmo);
    freeObject(k, vmo);
    if (pager >= 0) k.release(pager);
    if (port >= 0) k.release(port);
  };
  k.destroyObject = (obj) => {
    switch (k.objects.type(obj)) {
      case ObjType.Vmo:
        vmoDeadTransition(k, obj);
        k.releaseRecord(obj); // the live VMO's reference on its record
        return;
      case ObjType.Port:
        // Every queued packet was dropped when the last handle closed; a port never queued to
        // (created, never handed out) has an empty queue too.
        if (k.ports.head(obj) >= 0) portOnZeroHandles(k, obj);
        freeObject(k, obj);
        return;
      default:
        freeObject(k, obj);
    }
  };
}
