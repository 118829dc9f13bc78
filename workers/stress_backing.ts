// The stress run's backing store: where the pager reads pages from and the writeback worker writes
// them to. In memory (a SharedArrayBuffer) or a real file read and written with node:fs.

import fs from 'node:fs';
import { PAGE_SIZE } from '../shared/constants.js';
import type { BackingConfig } from './stress_protocol.js';

export interface Backing {
  read(vmoIndex: number, page: number, dst: Uint8Array): void;
  write(vmoIndex: number, page: number, src: Uint8Array): void;
  close(): void;
}

export function openBacking(config: BackingConfig): Backing {
  const at = (v: number, p: number): number => (v * config.vmoPages + p) * PAGE_SIZE;
  if (config.memory) {
    const bytes = new Uint8Array(config.memory);
    return {
      read: (v, p, dst) => dst.set(bytes.subarray(at(v, p), at(v, p) + dst.length)),
      write: (v, p, src) => bytes.set(src, at(v, p)),
      close: () => {},
    };
  }
  const fd = fs.openSync(config.path!, 'r+');
  return {
    read: (v, p, dst) => void fs.readSync(fd, dst, 0, dst.length, at(v, p)),
    write: (v, p, src) => void fs.writeSync(fd, src, 0, src.length, at(v, p)),
    close: () => fs.closeSync(fd),
  };
}
