/**
 * The real-socket part of a bench run in a process of its own (see
 * `runUdpInChild`): rudp's loopback figures were 20–80% worse when the same
 * process had first run the simulated many-connections scenario (a heap of
 * hundreds of MB to trace on every collection), so a full run measured a
 * handicapped rudp. Fresh, every peer starts from the same empty heap.
 *
 * argv: one JSON argument, `{ quick, seeds, parts }`. Sends progress lines
 * and then the result over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runUdp, type UdpParts, type UdpProgress } from './udp-bench.js';
import type { UdpReport } from './udp-results.js';

/** What the child tells its parent. */
type FromUdpChild = { readonly type: 'progress'; readonly line: string } | { readonly type: 'result'; readonly result: UdpReport | string };

/** `runUdp` in a fresh child process (TypeScript through tsx, as the bench; GC exposed, for its forced collections), its progress relayed. */
export function runUdpInChild(quick: boolean, seeds: readonly number[], progress: UdpProgress, parts: UdpParts): Promise<UdpReport | string> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify({ quick, seeds, parts })], {
    execArgv: ['--expose-gc', '--import', tsx],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => {
    let result: UdpReport | string | undefined;
    child.on('message', (m: FromUdpChild) => {
      if (m.type === 'progress') progress(m.line);
      else result = m.result;
    });
    // 'close', not 'exit': 'exit' may come before the parent has read the result from the IPC channel.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve(result ?? `real UDP part failed: its process ended (${signal ?? `exit code ${code}`}) without a result.`));
  });
}

if (process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const { quick, seeds, parts } = JSON.parse(process.argv[2] ?? '{}') as { quick: boolean; seeds: number[]; parts: UdpParts };
  const result = await runUdp(quick, seeds, (line) => process.send?.({ type: 'progress', line } satisfies FromUdpChild), parts);
  // Disconnected once the result is written: the channel would otherwise keep this process alive.
  process.send({ type: 'result', result } satisfies FromUdpChild, undefined, {}, () => process.disconnect());
}
