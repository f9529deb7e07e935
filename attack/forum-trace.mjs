/**
 * Round 23: a preload (`node --import attack/forum-trace.mjs`) for the built forum-server and forum-client
 * that says, on stderr, where a large reply's time goes. It patches rudpx's core `Connection` (the one
 * module both bundles import): on the first `send` of a message of 1 MiB or more (the server's reply) it
 * counts that connection's probe timeouts and its silences (nothing sent for over 5 ms while it had
 * sent data; and how much of them it was itself runnable, waiting for a core), and prints when the reply was handed to the transport, when the last of it was
 * acknowledged, and its stats then; a `readMessage` of 1 MiB or more (the client) prints when the
 * message was whole, and the client's stats. Every small message sent is stamped too (the client's
 * request). Times are wall-clock ms (`performance.timeOrigin + now`), comparable between processes.
 * Lines start `TRACE <label>` (`$FORUM_TRACE_LABEL`). Beside each, the main thread's CPU time and its time
 * waiting for a CPU (runnable, not running: /proc/self/schedstat) so far, ms: on a shared machine a
 * transfer's silences may be its processes waiting for a core.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Connection } from '../packages/rudp/dist/core.js';

const LARGE = 2 ** 20;
const label = process.env.FORUM_TRACE_LABEL ?? String(process.pid);
const wall = () => (performance.timeOrigin + performance.now()).toFixed(1);
/** The main thread's CPU time and run-queue wait so far, ms. */
const sched = () => {
  const [run, wait] = readFileSync('/proc/self/schedstat', 'utf8').split(' ').map(Number);
  return `cpu ${(run / 1e6).toFixed(1)} runq ${(wait / 1e6).toFixed(1)}`;
};
const say = (s) => process.stderr.write(`TRACE ${label} ${s}; ${sched()}\n`);
const brief = (s) =>
  `sent ${s.packetsSent} rtx ${s.packetsRetransmitted} lost ${s.packetsLost} spurious ${s.spuriousRetransmissions} recv ${s.packetsReceived} dup ${s.duplicatePackets} ` +
  `srtt ${s.srttMs.toFixed(2)} rttvar ${s.rttVarMs.toFixed(2)} minRtt ${s.minRttMs.toFixed(3)} cwnd ${s.cwndBytes} inflight ${s.bytesInFlight}`;

/** The main thread's run-queue wait so far, ms. */
const runq = () => Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;

const watch = (conn) => {
  const rec = conn.recovery;
  // `silentRunq`: of the silences, the time this process was itself runnable and waiting for a core.
  const w = { ptos: 0, maxBackoff: 0, last: undefined, lastRunq: 0, stalls: 0, stalledMs: 0, silentRunq: 0, longest: 0 };
  const onPto = rec.onPtoExpired.bind(rec);
  rec.onPtoExpired = (...a) => {
    w.ptos++;
    const r = onPto(...a);
    w.maxBackoff = Math.max(w.maxBackoff, rec.ptoCount);
    return r;
  };
  const onSent = rec.onPacketSent.bind(rec);
  rec.onPacketSent = (now, p, ...a) => {
    const q = runq();
    if (w.last !== undefined && now - w.last > 5) {
      w.stalls++;
      w.stalledMs += now - w.last;
      w.silentRunq += q - w.lastRunq;
      w.longest = Math.max(w.longest, now - w.last);
    }
    w.last = now;
    w.lastRunq = q;
    return onSent(now, p, ...a);
  };
  // `$FORUM_TRACE_TIMELINE=<dir>`: every packet sent (`s pn`), ACK handled (`a largest srtt rttvar ptoCount
  // probe-deadline-from-now`) and probe timeout (`P`), written to <dir>/<label>.timeline once all is acknowledged.
  const dir = process.env.FORUM_TRACE_TIMELINE;
  if (dir !== undefined) {
    const lines = [];
    w.timeline = lines;
    const sent2 = rec.onPacketSent;
    lines.push(`${performance.now().toFixed(3)} H (reply handed) ${sched()}`);
    rec.onPacketSent = (now, p, ...a) => (
      lines.push(`${now.toFixed(3)} s ${p.pn} ${p.size} B chunks ${p.chunks.length}${p.retransmission ? ' rtx' : ''}${p.pingOnly ? ' ping' : ''}${p.carriedBlocked ? ' BLOCKED' : ''}${p.carriedMaxData ? ' MAX_DATA' : ''} ${sched()}`), sent2(now, p, ...a)
    );
    const ack = rec.onAck.bind(rec);
    rec.onAck = (now, f, ...a) => {
      const r = ack(now, f, ...a);
      lines.push(`${now.toFixed(3)} a ${f.ranges[0]?.hi} srtt ${rec.rtt.srtt.toFixed(2)} rttvar ${rec.rtt.rttvar.toFixed(2)} pto# ${rec.ptoCount} next-probe +${(rec.ptoDeadline() - now).toFixed(1)} runq ${runq().toFixed(1)}`);
      return r;
    };
    const pto2 = rec.onPtoExpired;
    rec.onPtoExpired = (...a) => (lines.push(`${performance.now().toFixed(3)} P runq ${runq().toFixed(1)}`), pto2(...a));
    w.save = () => writeFileSync(`${dir}/${label}.timeline`, lines.join('\n') + '\n');
  }
  return () =>
    (w.save?.(), '') + `PTOs ${w.ptos} (backoff up to ${w.maxBackoff}); ${w.stalls} silences over 5 ms, ${w.stalledMs.toFixed(0)} ms in all (${w.silentRunq.toFixed(0)} of them waiting for a core), longest ${w.longest.toFixed(0)}`;
};

const send = Connection.prototype.send;
Connection.prototype.send = function (data, ...rest) {
  const r = send.call(this, data, ...rest);
  if (data.length >= LARGE) {
    const probes = watch(this);
    const t0 = performance.now();
    say(`send ${data.length} B at ${wall()}`);
    // Polled: the core has no event for "all acknowledged" (bufferedAmount counts what is unacknowledged).
    const timer = setInterval(() => {
      if (this.bufferedAmount > 0 && performance.now() - t0 < 300_000) return;
      clearInterval(timer);
      say(`acked after ${(performance.now() - t0).toFixed(0)} ms at ${wall()}; ${brief(this.stats())}; ${probes()}`);
    }, 5);
  } else say(`send ${data.length} B at ${wall()}`);
  return r;
};

const read = Connection.prototype.readMessage;
Connection.prototype.readMessage = function (...a) {
  const m = read.apply(this, a);
  if (m !== undefined && m.length >= LARGE) say(`whole ${m.length} B at ${wall()}; ${brief(this.stats())}`);
  return m;
};
