/**
 * The hand-made one-line bugs of `named-mutants.mjs`: each rewrites one line
 * (`from`, found exactly once in `file`) to `to`, and the unit test files
 * `tests` must then fail. Kept apart from the runner so a test can check that
 * every `from` still occurs in today's source (`named-mutants.test.ts`): a
 * refactor that moves a line fails there, not silently in a tool run by hand.
 */
export const core = 'packages/rudp/src/core';
export const unit = 'packages/rudp/test/unit';

/** @type {readonly { name: string; file: string; from: string; to: string; tests: readonly string[] }[]} */
export const MUTANTS = [
  { name: '1 packet threshold 3 -> 30', file: `${core}/config.ts`, from: 'packetThreshold: 3,', to: 'packetThreshold: 30,', tests: ['loss-detection', 'loss-detection-timers'] },
  { name: '2 probe timeout never doubles', file: `${core}/recovery/loss-detection.ts`, from: 'Math.min(base * 2 ** this.ptoCount,', to: 'Math.min(base,', tests: ['loss-detection', 'loss-detection-timers', 'timers'] },
  { name: '2b probe backoff not counted', file: `${core}/recovery/loss-detection.ts`, from: 'this.ptoCount++;', to: ';', tests: ['loss-detection', 'loss-detection-timers', 'timers'] },
  { name: '3 ACK range gap written off by one', file: 'packages/rudp/src/wire/ack-frame.ts', from: 'w.varint(prev.lo - r.hi - 2);', to: 'w.varint(prev.lo - r.hi - 1);', tests: ['ack-generation'] },
  { name: '3b ack-of-ack floor prunes one range too many', file: `${core}/receive/ack-generation.ts`, from: '(ranges[count] as PnRange).hi > this.ackFloor ||', to: '(ranges[count] as PnRange).hi > this.ackFloor + 1 ||', tests: ['ack-generation'] },
  { name: '3c one range too many kept for the room', file: `${core}/receive/ack-generation.ts`, from: 'while (count > 1 && ackFrameSize(ranges, delay, count) > room) count--;', to: 'while (count > 1 && ackFrameSize(ranges, delay, count) > room + 1) count--;', tests: ['ack-generation'] },
  { name: '3d newest range dropped', file: `${core}/receive/ack-generation.ts`, from: 'let count = Math.min(1, ranges.length);', to: 'let count = 0;', tests: ['ack-generation'] },
  { name: '4 reassembly duplicate check removed', file: `${core}/receive/reassembly.ts`, from: "if (fresh === 0) return 'duplicate';", to: '', tests: ['reassembly'] },
  { name: '5 time threshold edge (<= -> <)', file: `${core}/recovery/loss-detection.ts`, from: 'p.timeSent <= now - lossDelay', to: 'p.timeSent < now - lossDelay', tests: ['loss-detection', 'loss-detection-timers'] },
  { name: '5b time threshold 9/8 -> 5/4', file: `${core}/config.ts`, from: 'timeThreshold: 9 / 8,', to: 'timeThreshold: 5 / 4,', tests: ['loss-detection', 'loss-detection-timers'] },
  { name: '6 credit announced past a quarter, not at it', file: `${core}/flow-control.ts`, from: 'limit - this.advertisedLimit >= this.grantBytes / 4', to: 'limit - this.advertisedLimit > this.grantBytes / 4', tests: ['flow-control'] },
  { name: '6b credit every half window', file: `${core}/flow-control.ts`, from: 'limit - this.advertisedLimit >= this.grantBytes / 4', to: 'limit - this.advertisedLimit >= this.grantBytes / 2', tests: ['flow-control'] },
  { name: '6c send one byte beyond the peer limit', file: `${core}/peer-limit.ts`, from: 'if (streamEnd <= this.peerLimit) return true;', to: 'if (streamEnd <= this.peerLimit + 1) return true;', tests: ['flow-control'] },
  { name: '7 pacer starts with three packets', file: `${core}/send/pacer.ts`, from: 'this.tokens = 2 * mtu;', to: 'this.tokens = 3 * mtu;', tests: ['pacer'] },
  { name: '7b pacer cap half window', file: `${core}/send/pacer.ts`, from: 'Math.min(10 * this.mtu, this.cc.window() / 4)', to: 'Math.min(10 * this.mtu, this.cc.window() / 2)', tests: ['pacer'] },
  { name: '7c pacer readyAt ignores tokens', file: `${core}/send/pacer.ts`, from: '(this.mtu - this.tokens) / rate', to: 'this.mtu / rate', tests: ['pacer'] },
  { name: '8 send-queue head not rebased on compaction', file: `${core}/send/send-queue.ts`, from: 'this.outbox.splice(0, this.head);\n      this.head = 0;', to: 'this.outbox.splice(0, this.head);', tests: ['send-queue'] },
  { name: '8b ackBelow includes n', file: `${core}/send/send-queue.ts`, from: 'if (m.id >= next || !m.allSent) break;', to: 'if (m.id > next || !m.allSent) break;', tests: ['send-queue'] },
  { name: '8c ackBelow acks unsent messages', file: `${core}/send/send-queue.ts`, from: 'if (m.id >= next || !m.allSent) break;', to: 'if (m.id >= next) break;', tests: ['send-queue'] },
  { name: '9 acknowledged resends kept', file: `${core}/send/retransmit-queue.ts`, from: 'if (c.message.isAcked(c.index, c.piece)) return false;', to: '', tests: ['retransmit-queue'] },
  { name: '9b tail copy kept after new data', file: `${core}/send/retransmit-queue.ts`, from: '(this.lastNewDataAt ?? Number.NEGATIVE_INFINITY) <= c.message.firstSentAt', to: 'true', tests: ['retransmit-queue'] },
  { name: '9c resend does not wait for the repair in flight', file: `${core}/send/retransmit-queue.ts`, from: '(c.afterRepairs !== true || !this.packets.inFlight(c.message.lastRepairPn))', to: 'true', tests: ['retransmit-queue'] },
  { name: '10 INITIAL backoff x2', file: `${core}/handshake.ts`, from: 'const INITIAL_BACKOFF = 1.5;', to: 'const INITIAL_BACKOFF = 2;', tests: ['handshake'] },
  { name: '10b INITIAL cap 1 s', file: `${core}/handshake.ts`, from: 'const INITIAL_RESEND_CAP_MS = 500;', to: 'const INITIAL_RESEND_CAP_MS = 1000;', tests: ['handshake'] },
  { name: '10c RETRY-timed interval one round trip', file: `${core}/handshake.ts`, from: 'Math.max(2 * this.retryRtt, INITIAL_RESEND_MIN_MS)', to: 'Math.max(this.retryRtt, INITIAL_RESEND_MIN_MS)', tests: ['handshake'] },
  { name: '10d no Karn rule', file: `${core}/handshake.ts`, from: 'if (!this.initialAmbiguous) this.retryRtt = now - this.lastInitialSent;', to: 'this.retryRtt = now - this.lastInitialSent;', tests: ['handshake'] },
  { name: '10e loss seed counts one lossless INITIAL', file: `${core}/handshake.ts`, from: 'Math.min(1, 2 / this.sentInitials)', to: 'Math.min(1, 1 / this.sentInitials)', tests: ['handshake'] },
  { name: '11 next timeout is not the earliest', file: `${core}/connection/timeouts.ts`, from: 'for (const kind of TIMER_ORDER) t = Math.min(t, deadline(c, kind));', to: 'for (const kind of TIMER_ORDER.slice(1)) t = Math.min(t, deadline(c, kind));', tests: ['timers'] },
  { name: '11b probe expires before loss detection', file: `${core}/timers.ts`, from: '  Timer.LossDetection,\n  Timer.Probe,\n', to: '  Timer.Probe,\n  Timer.LossDetection,\n', tests: ['timers'] },
  { name: '12 heap sift-down picks the larger child', file: `${core}/binary-heap.ts`, from: 'if (this.less(right, child)) {', to: 'if (this.less(child, right)) {', tests: ['binary-heap'] },
  { name: '12b deadline heap: a deadline moved later is not sifted down', file: `${core}/deadline-heap.ts`, from: 'if (deadline < old) this.siftUp(p);\n    else this.siftDown(p);', to: 'if (deadline < old) this.siftUp(p);', tests: ['deadline-heap'] },
  { name: '12c deadline heap: the entry moved into a deleted place is never sifted up', file: `${core}/deadline-heap.ts`, from: 'if (p > 0 && moved < (this.at[(p - 1) >> 1] as number)) this.siftUp(p);\n    else this.siftDown(p);', to: 'this.siftDown(p);', tests: ['deadline-heap'] },
  { name: '13 unacknowledged timer counts packets alone (a message resent for ever keeps the connection)', file: `${core}/connection/timeouts.ts`, from: 'const message = messageOwedSince(c.sendQueue.oldestUnacknowledged());', to: 'const message = Number.POSITIVE_INFINITY;', tests: ['unacknowledged-message'] },
  { name: '13b unacknowledged message counted without its tries', file: `${core}/connection/timeouts.ts`, from: 'm === undefined || m.lostTries < UNACKNOWLEDGED_LOST_TRIES ?', to: 'm === undefined ?', tests: ['unacknowledged-message'] },
  { name: '13c every lost copy of a message counts a try', file: `${core}/send/outgoing-message.ts`, from: 'if (this.lostTries > 0 && sentAt < this.lostTryAt) return;', to: '', tests: ['unacknowledged-message'] },
  { name: '13d progress on a message of several chunks does not restart its count', file: `${core}/connection/packet-fate.ts`, from: 'if ((m.chunkCount > 1 || chunk.piece !== undefined) && !m.isAcked(chunk.index, chunk.piece)) m.owedFrom(c.lastActivity);', to: '', tests: ['unacknowledged-message'] },
  { name: '13e a message is owed from the start, not from its first send', file: `${core}/send/send-queue.ts`, from: 'if (!m.awaitingAcknowledgement) m.owedFrom(now);', to: '', tests: ['unacknowledged-message'] },
  { name: '13f progress keeps the tries lost before it', file: `${core}/send/outgoing-message.ts`, from: 'this.awaitedSince = now;\n    this.lostTries = 0;', to: 'this.awaitedSince = now;', tests: ['unacknowledged-message'] },
  { name: '14 a client ends an established connection on a VERSION packet', file: `${core}/endpoint/version-negotiation.ts`, from: " || conn.state !== 'handshake')", to: ')', tests: ['version-negotiation'] },
  { name: '14b a client takes a VERSION packet from any address', file: `${core}/endpoint/version-negotiation.ts`, from: 'if (conn.remote !== from) return void e.drops.addressMismatch++;', to: '', tests: ['version-negotiation'] },
  { name: '14c a client takes a VERSION packet naming its own version (a forgery)', file: `${core}/endpoint/version-negotiation.ts`, from: 'if (v.versions.includes(PROTOCOL_VERSION)) return void e.drops.malformed++;', to: '', tests: ['version-negotiation'] },
  { name: '14d a client endpoint answers another version', file: `${core}/endpoint/version-negotiation.ts`, from: 'if (!e.acceptIncoming) return;', to: '', tests: ['version-negotiation'] },
  { name: '14e VERSION answers past the stateless queue', file: `${core}/endpoint/version-negotiation.ts`, from: 'if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;', to: '', tests: ['version-negotiation'] },
  { name: '14f a short INITIAL answered (toward an amplifier)', file: 'packages/rudp/src/wire/version-packet.ts', from: 'if (data.length < MAX_DATAGRAM) return undefined;', to: 'if (data.length < MAX_DATAGRAM - 1) return undefined;', tests: ['version-negotiation'] },
  { name: '14g a version-0 datagram answered', file: 'packages/rudp/src/wire/version-packet.ts', from: 'version === PROTOCOL_VERSION || version === 0 ||', to: 'version === PROTOCOL_VERSION ||', tests: ['version-negotiation'] },
  { name: '14h another version answered without its checksum', file: 'packages/rudp/src/wire/version-packet.ts', from: 'if (readU32(data, end) !== crc32c(data, 0, end)) return undefined;\n  return readU32(data, INITIAL_CID_AT);', to: 'return readU32(data, INITIAL_CID_AT);', tests: ['version-negotiation'] },
  { name: '14i a VERSION packet decoded without its checksum', file: 'packages/rudp/src/wire/version-packet.ts', from: 'if (readU32(data, end) !== crc32c(data, 0, end)) return undefined;\n  const versions', to: 'const versions', tests: ['version-negotiation'] },
  { name: '14j a VERSION packet naming version 0 or 16 decoded', file: 'packages/rudp/src/wire/version-packet.ts', from: 'if (versions.some((v) => v < 1 || v > 15)) return undefined;', to: '', tests: ['version-negotiation'] },
  { name: '14k a VERSION packet never dispatched', file: `${core}/endpoint.ts`, from: 'if (data[0] === VERSION_PACKET_BYTE) return handleVersionPacket(this, data, from);', to: '', tests: ['version-negotiation'] },
  { name: '14l another version never answered', file: `${core}/endpoint.ts`, from: "if (drop === 'version') answerOtherVersion(this, data, from);", to: '', tests: ['version-negotiation'] },
  { name: '14m a four-byte packet number taken as the INITIAL layout', file: 'packages/rudp/src/wire/version-packet.ts', from: ' || (first & 0x08) !== 0) return undefined;', to: ') return undefined;', tests: ['version-negotiation'] },
  { name: '15 a port change resends nothing sent to the old port', file: `${core}/connection/migration.ts`, from: 'else c.recovery.leaveAddress(firstPn, now);', to: '', tests: ['migration'] },
  { name: '15b a port change counts the old port from the validation, not the move', file: `${core}/connection/migration.ts`, from: 'const firstPn = path.moved ? path.startPn : c.nextPn;', to: 'const firstPn = c.nextPn;', tests: ['migration'] },
  { name: '15c leaving an address keeps the probe backoff', file: `${core}/recovery/loss-detection.ts`, from: 'this.pathStartPn = firstPn;\n    this.ptoCount = 0;', to: 'this.pathStartPn = firstPn;', tests: ['loss-detection'] },
];
