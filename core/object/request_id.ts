// The id of thread r's current page request in traces: (serial, thread slot), unique for the
// kernel's life. Defined with the other request getters in core/vm/page_source.ts; kept here so
// object-layer code can name requests by this module's path.

export { requestIdOf } from '../vm/page_source.js';
