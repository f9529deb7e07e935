/**
 * One many-real run of one system, for profiling the server over the measured
 * window: set MANY_REAL_SERVER_WINDOW_PROF=out.cpuprofile (and optionally
 * MANY_REAL_SERVER_RUDP / MANY_REAL_SERVER_OPTIONS as many-real-compare.ts does).
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/many-real-profile.ts
 *   [system=rudp] [measureMs=30000] [connections=10000]
 */
import { MANY_REAL, runManyRealOnce, type ManyRealSystem } from '../udp/many-real.js';

const system = (process.argv[2] ?? 'rudp') as ManyRealSystem;
const scenario = { ...MANY_REAL, rounds: 1, measureMs: Number(process.argv[3] ?? '30000'), connections: Number(process.argv[4] ?? '10000') };
const r = await runManyRealOnce(system, 0, scenario, (line) => console.log(line));
console.log(`${system}: server CPU ${r.serverCpuPercent.toFixed(2)}%, ${r.datagramsPerMessage.toFixed(3)} datagrams/message, ${r.clean ? 'clean' : 'NOT CLEAN'}`);
