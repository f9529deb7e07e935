/**
 * Scratch preload (`$FORUM_PRELOAD=attack/pto-trace.mjs`): every probe timeout of a forum-client's
 * connection, appended to `$PTO_TRACE_FILE` as JSON: srtt, rttvar, ack-eliciting packets in flight, the
 * timeout's length from the last ack-eliciting packet (`wait`), the timer's lateness, the backoff, and
 * the time since the last small message was sent (the MSG request).
 */
import { appendFileSync } from 'node:fs';
import { Connection } from '../packages/rudp/dist/core.js';

const file = process.env.PTO_TRACE_FILE ?? '/tmp/pto-trace.jsonl';
const label = process.env.FORUM_TRACE_LABEL ?? String(process.pid);
const hooked = new WeakSet();
let lastSend = 0;
const send = Connection.prototype.send;
Connection.prototype.send = function (data, ...rest) {
  lastSend = performance.now();
  if (!hooked.has(this) && label.endsWith('client')) {
    hooked.add(this);
    const r = this.recovery;
    const onPto = r.onPtoExpired.bind(r);
    r.onPtoExpired = () => {
      const now = performance.now();
      const due = r.ptoDeadline();
      const line = { label, sinceSend: now - lastSend, count: r.ptoCount + 1, inFlight: [...r.packets()].length, srtt: r.rtt.srtt, rttvar: r.rtt.rttvar, wait: due - r.lastAckElicitingSentAt, late: now - due };
      appendFileSync(file, JSON.stringify(line) + '\n');
      onPto();
    };
    let rawDelay = 0;
    const onAck = r.onAck.bind(r);
    r.onAck = (now, f, ...a) => {
      rawDelay = f.delayMicros / 1000;
      return onAck(now, f, ...a);
    };
    const rtt = r.rtt;
    const update = rtt.update.bind(rtt);
    rtt.update = (sample, ackDelay) => {
      const line = { label, rtt: sample, ackDelay, rawDelay, srtt: rtt.srtt, rttvar: rtt.rttvar, minRtt: rtt.minRtt, hasSample: rtt.hasSample };
      appendFileSync(file, JSON.stringify(line) + '\n');
      update(sample, ackDelay);
    };
  }
  return send.call(this, data, ...rest);
};
