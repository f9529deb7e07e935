/**
 * The messages between the many-real orchestrator and its child processes
 * (one server, a few clients), over the fork IPC channel.
 */

/** The systems the many-real scenario drives. */
export type ManyRealSystem = 'rudp' | 'udx-native';

/** Memory of the server process, bytes. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
}

/** What the server measured over the steady window. */
export interface ServerWindow {
  /** User + system CPU of the server process over the window, s. */
  readonly cpuSeconds: number;
  /** The user and system parts of `cpuSeconds`, s. */
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly wallSeconds: number;
  /** Datagrams the server's socket sent and received over the window. */
  readonly datagramsSent: number;
  readonly datagramsReceived: number;
  /** Messages (16-byte payloads) the server received over the window. */
  readonly messages: number;
}

/** Orchestrator → server. */
export type ToServer =
  | { readonly type: 'streams'; readonly port: number; readonly from: number; readonly count: number }
  | { readonly type: 'measure-start' }
  | { readonly type: 'measure-end' }
  | { readonly type: 'totals' }
  | { readonly type: 'exit' };

/** Server → orchestrator. */
export type FromServer =
  | { readonly type: 'ready'; readonly port: number; readonly baseline: MemorySample }
  | { readonly type: 'streams-ok' }
  | { readonly type: 'started'; readonly memory: MemorySample; readonly connections: number }
  | { readonly type: 'window'; readonly window: ServerWindow }
  | { readonly type: 'totals'; readonly messages: number; readonly badMessages: number; readonly closed: Record<string, number> };

/** Orchestrator → client. */
export type ToClient =
  | { readonly type: 'connect'; readonly serverPort: number }
  | { readonly type: 'go'; readonly startAt: number }
  | { readonly type: 'stop' }
  | { readonly type: 'exit' };

/** Client → orchestrator. */
export type FromClient =
  | { readonly type: 'bound'; readonly port: number }
  | { readonly type: 'connected'; readonly failed: number }
  | { readonly type: 'stopped'; readonly sent: number; readonly closed: Record<string, number> };

/** Counts a closed connection under its reason (digits folded, so one reason is one key). */
export function countClose(closed: Record<string, number>, reason: string): void {
  const key = reason.replace(/[0-9.:]+/g, '#');
  closed[key] = (closed[key] ?? 0) + 1;
}

/** Size of every message the clients send. */
export const MESSAGE_BYTES = 16;
