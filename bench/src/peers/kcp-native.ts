import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ensureKcpBinding } from './kcp-build.js';

/** The subset of node-kcp's native `KCP` object the adapter uses (checked against its kcpobject.cc). */
export interface NativeKcp {
  output(callback: (data: Buffer, size: number, context: object) => void): void;
  /** `ikcp_input`: 0 on success, negative when the datagram is not for this conv or malformed. */
  input(data: Buffer): number;
  /** `ikcp_send`: 0 on success, negative when the message needs too many fragments. */
  send(data: Buffer): number;
  /** One whole message (message mode), or `undefined`. */
  recv(): Buffer | undefined;
  /** `ikcp_update(now & 0xffffffff)`. */
  update(now: number): void;
  /** Milliseconds until `update` must next be called (relative, not absolute). */
  check(now: number): number;
  flush(): void;
  nodelay(nodelay: number, interval: number, resend: number, nc: number): number;
  wndsize(send: number, receive: number): number;
  setmtu(mtu: number): number;
  waitsnd(): number;
  release(): void;
}

/** The native constructor. */
export type NativeKcpConstructor = new (conv: number, context: object) => NativeKcp;

const require = createRequire(import.meta.url);

/**
 * node-kcp's `main` is a node-gyp helper that prints a path, not the binding,
 * so the binding is loaded through the package's `index.js` (built on first
 * use: see kcp-build.ts).
 */
export const NativeKCP: NativeKcpConstructor = (require(join(ensureKcpBinding(), 'index.js')) as { KCP: NativeKcpConstructor }).KCP;
