// The mapping-only ClosePagerTest and ClosePortTest (docs/conformance/pager-tests.md §1.4, §2.6): closing the pager
// or the port under a fault blocked in a mapping. A fault that hits a closed source is not a status but
// a fatal page fault (WaitForCrash) at the first byte the thread accessed, with that status. The
// VMO_VMAR_TESTs of failure, resize, detach and close run both ways in test/pager/ (vmoVmarTest).

import t from 'tap';
import { closePagerScenario, closePortScenario, mappingAccess } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that closing the pager crashes a blocked mapped faulter while an already-supplied page stays readable.
pagerTest(t, 'ClosePagerTest', (t, pager) => closePagerScenario(t, pager, mappingAccess(pager)));

// Tests that closing the port loses requests but fails no faulter: supply works, and only detach crashes it.
pagerTest(t, 'ClosePortTest', (t, pager) => closePortScenario(t, pager, mappingAccess(pager)));
