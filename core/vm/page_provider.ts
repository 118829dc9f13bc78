// PageProvider (zircon kernel/vm/page_provider.h): the interface a PageSource sends its requests
// through. The PageSource (core/vm/page_source.ts) owns the requests; the provider turns the ones it
// is given into something a pager can see. The one provider is the PagerProxy
// (core/object/pager_proxy.ts), installed per JS thread on KernelState.pageProvider by core/kernel.ts,
// so the vm layer never imports the object layer.
//
// A provider is also the allocator of the port packet it posts (Zircon's PagerProxy is a
// PortAllocator): the port hands the packet back through freePacketLocked once a pager dequeued it,
// so core/object/port_dispatcher.ts needs no import of the proxy either.
//
// Threads: any; every *Locked method runs with the VMO lock held (vmo = the VMO's object slot,
// r = a request, i.e. its thread slot). No imports: this module is the seam.

/** Where a leader's packet is, as debugging reports it (racy: read without locks). */
export type ProviderPacketState = 'queued in port, unread' | 'delivered to the pager' | 'waiting in the VMO FIFO' | 'none';

export interface PageProvider {
  /** A new leader request r (PageProvider::SendAsyncRequest). */
  sendAsyncRequestLocked(vmo: number, r: number): void;
  /** The PageSource takes leader r back, completed or cancelled (ClearAsyncRequest). */
  clearAsyncRequestLocked(vmo: number, r: number): void;
  /** Leader `old` was cancelled and follower `nw` took over its range (SwapAsyncRequest). */
  swapAsyncRequestLocked(vmo: number, old: number, nw: number): void;
  /** The PageSource was detached: every request was completed (OnDetach). */
  onDetachLocked(vmo: number): void;
  /** The PageSource was closed (OnClose). */
  onCloseLocked(vmo: number): void;
  /** debug: where leader r's packet is (no lock needed; racy). */
  debugPacketState(vmo: number, r: number): ProviderPacketState;
}

/** The allocator side of a provider (PortAllocator::Free): the pager dequeued this VMO's packet. */
export interface PagerPacketAllocator {
  freePacketLocked(vmo: number): void;
}

/** What KernelState.pageProvider holds. */
export type InstalledPageProvider = PageProvider & PagerPacketAllocator;

function notInstalled(): never {
  throw new Error('no PageProvider installed on this KernelState (core/kernel.ts installs the PagerProxy)');
}

/** The provider of a KernelState before core/kernel.ts installed the PagerProxy: every call throws. */
export const NO_PAGE_PROVIDER: InstalledPageProvider = {
  sendAsyncRequestLocked: notInstalled,
  clearAsyncRequestLocked: notInstalled,
  swapAsyncRequestLocked: notInstalled,
  onDetachLocked: notInstalled,
  onCloseLocked: notInstalled,
  debugPacketState: () => 'none',
  freePacketLocked: notInstalled,
};
