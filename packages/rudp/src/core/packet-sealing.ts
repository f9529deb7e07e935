/**
 * The last and first step of a DATA packet: sealing a finished packet with
 * the connection's packet protection (or its checksum in plaintext mode),
 * and opening a received one before anything in it is believed. Kept apart
 * from the connection so that what an attacker's datagram can reach before
 * it is authenticated reads in one place.
 */
import type { PacketProtection } from '../crypto/index.js';
import { HEADER_SIZE, type HeaderFields, PacketType, type PacketWriter, TAG_SIZE, isProtected } from '../wire/packet.js';
import type { DatagramScratch } from './datagram-scratch.js';
import { KeptViews } from './kept-views.js';
import { ByteSlab } from './send/byte-slab.js';

/** Why `handlePacket` or `handleAccept` dropped a packet. */
export type PacketDrop = 'malformed' | 'checksum' | 'auth' | 'replay' | 'unprotected';

/** Outgoing datagrams are copied out of the scratch buffer into shared slabs. */
const SLAB = new ByteSlab();

/**
 * Received headers are copied (7 or 9 bytes) into this buffer to serve as
 * the associated data: a view of the datagram would be one more heap object
 * per packet. The AEAD reads it synchronously; nothing keeps it.
 */
const HEADER_COPY = new Uint8Array(HEADER_SIZE);
/** The plaintext of a packet shorter than a tag: it fails before anything is written. */
const NO_BYTES = new Uint8Array(0);

/** Views of `HEADER_COPY` by header length (index: the length). */
const HEADER_COPY_VIEWS: readonly Uint8Array[] = Array.from({ length: HEADER_SIZE + 1 }, (_, n) => HEADER_COPY.subarray(0, n));

/** `data[0, length)` in `HEADER_COPY`, valid until the next call. */
function headerCopy(data: Uint8Array, length: number): Uint8Array {
  for (let i = 0; i < length; i++) HEADER_COPY[i] = data[i] as number;
  return HEADER_COPY_VIEWS[length] as Uint8Array;
}

/**
 * Largest datagram sealed through `SEALED`, bytes (a copy of 1,400 bytes
 * cost some 5 % more than the view it saves; of 40 bytes, nothing).
 */
const SEAL_COPY_MAX = 512;
/**
 * Where a small packet is sealed before it is copied into a datagram of its
 * own: one for every endpoint, as a packet is sealed and copied before the
 * next is started.
 */
const SEALED = new Uint8Array(SEAL_COPY_MAX);
const SEALED_VIEWS = new KeptViews(SEALED, 8);

/**
 * Where a small received datagram is copied whole before it is opened: the
 * cipher reads its header (the associated data) and ciphertext from kept
 * views of it, where views of the datagram would be two more heap objects
 * per packet; the plaintext is still written into the datagram (the
 * message delivered is a view of it).
 */
const RECEIVED = new Uint8Array(SEAL_COPY_MAX);
const RECEIVED_VIEWS = new KeptViews(RECEIVED, 8);
/** Views of `RECEIVED`'s start by header length (index: the length). */
const RECEIVED_HEADERS: readonly Uint8Array[] = Array.from({ length: HEADER_SIZE + 1 }, (_, n) => RECEIVED.subarray(0, n));

/**
 * `data[start, start + length)` as a plain `Uint8Array`, whatever `data` is.
 * Node's sockets hand over a `Buffer`, whose `subarray` builds a `Buffer`
 * through its JavaScript constructor (the species protocol), and so would
 * every view cut from this one (the frames', a message's): several times the
 * cost of a plain view. A message that reaches the Node API as a plain array
 * becomes a `Buffer` there (`asBuffer`), once.
 */
function plainView(data: Uint8Array, start: number, length: number): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset + start, length);
}

/** The packet type of a DATA packet now: protected with the current key phase, or plain. */
export function dataPacketType(protection: PacketProtection | undefined): PacketType {
  if (protection === undefined) return PacketType.Data;
  return protection.keyPhase() === 1 ? PacketType.Protected1 : PacketType.Protected0;
}

/**
 * The finished datagram of `w` (written into `scratch`): sealed with the AEAD
 * (header as associated data, `pn` as nonce), or with its checksum.
 */
export function sealDatagram(protection: PacketProtection | undefined, w: PacketWriter, pn: number, scratch: DatagramScratch): Uint8Array {
  if (protection === undefined) {
    const finished = w.finish();
    return SLAB.copy(finished, 0, finished.length);
  }
  // Keys are updated long before their limit (crypto/aead-limits.ts), and a connection whose keys cannot be
  // closes CLOSE_RESERVE packets before it (transmit.ts): the throws below are never reached.
  if (protection.wholePackets) {
    // The provider writes header and sealed payload into the datagram in one call, from the scratch
    // buffer as written: no view per packet, and the library makes the nonce.
    const datagram = SLAB.alloc(w.pos + TAG_SIZE);
    if (!protection.sealPacket(pn, scratch.full, w.headerLength, w.pos, datagram)) throw new Error('rudp: packet protection key exhausted');
    return datagram;
  }
  // The header sits at the start of the scratch buffer: its view is kept per length, not cut per packet.
  const header = scratch.view(w.headerLength);
  // The plaintext's view comes from a small cache by size (a packet's size repeats).
  const plaintext = scratch.range(w.headerLength, w.pos);
  const datagram = SLAB.alloc(w.pos + TAG_SIZE);
  datagram.set(header);
  // A small packet is sealed into a kept view of `SEALED` and copied: sealing it into the datagram
  // needs a view of the datagram per packet, a heap object dearer than copying a few hundred bytes.
  // A large one is sealed in place, where the copy would cost more than the view.
  const small = w.pos + TAG_SIZE <= SEAL_COPY_MAX;
  const out = small ? SEALED_VIEWS.view(w.headerLength, w.pos + TAG_SIZE) : datagram.subarray(w.headerLength);
  if (!protection.sealInto(header, pn, plaintext, out)) throw new Error('rudp: packet protection key exhausted');
  if (small) datagram.set(out, w.headerLength);
  return datagram;
}

/**
 * The payload of DATA packet `h` (full packet number `pn`), opened if it is
 * protected; else why it is dropped. `'integrity-limit'`: it failed, and so
 * many forgeries did before it that the connection must close. With
 * `checkCopies`, a duplicate that authenticates is `'copy'` (a replay all
 * the same, but an authentic one: PacketProtection.authenticCopy), and one
 * that does not is a forgery like any other (`'auth'`, or `'integrity-limit'`);
 * one of a key phase whose keys are gone is a `'replay'`, as a fresh one is.
 */
export function openPayload(protection: PacketProtection | undefined, encrypted: boolean, h: HeaderFields, pn: number, checkCopies = false): Uint8Array | PacketDrop | 'integrity-limit' | 'copy' {
  const data = h.datagram;
  if (isProtected(h.type)) {
    if (protection === undefined) return 'unprotected';
    // Opened in place: the datagram is ours (SansIoEndpoint.handleDatagram), and a message delivered
    // from it is a view of a buffer its own size, which reassembly keeps without copying (a view of a
    // shared slab would be copied once more). A packet that fails is dropped, so its bytes may be lost.
    const length = h.payloadEnd - h.payloadStart;
    const keyPhase = h.type === PacketType.Protected1 ? 1 : 0;
    let failure: ReturnType<typeof protection.openInto>;
    if (protection.wholePackets) {
      // One call with the datagram as received (its header the associated data): the only view cut is the plaintext's, for a packet that opened.
      failure = protection.openPacket(keyPhase, pn, data, h.payloadStart, h.payloadEnd);
      if (failure === undefined) return plainView(data, h.payloadStart, length - TAG_SIZE);
    } else {
      const out = length >= TAG_SIZE ? plainView(data, h.payloadStart, length - TAG_SIZE) : NO_BYTES;
      let header: Uint8Array;
      let ciphertext: Uint8Array;
      if (data.length <= RECEIVED.length) {
        RECEIVED.set(data);
        header = RECEIVED_HEADERS[h.payloadStart] as Uint8Array;
        ciphertext = RECEIVED_VIEWS.view(h.payloadStart, h.payloadEnd);
      } else {
        header = headerCopy(data, h.payloadStart);
        ciphertext = plainView(data, h.payloadStart, length);
      }
      failure = protection.openInto(header, keyPhase, pn, ciphertext, out);
      if (failure === undefined) return out;
    }
    // A number already seen is refused before the tag is checked, so it may be anyone's forgery:
    // it must not make us send anything (an ACK per forged datagram would be a reflector).
    if (failure === 'duplicate' && checkCopies) {
      // Rare (a copy from the address a migration validates), and refused before anything was written: views cut here, whichever path refused it.
      const out = length >= TAG_SIZE ? plainView(data, h.payloadStart, length - TAG_SIZE) : NO_BYTES;
      const copy = protection.authenticCopy(headerCopy(data, h.payloadStart), keyPhase, pn, plainView(data, h.payloadStart, length), out);
      return copy === 'not-duplicate' || copy === 'too-old' ? 'replay' : copy;
    }
    if (failure === 'duplicate' || failure === 'too-old') return 'replay';
    return failure === 'integrity-limit' ? 'integrity-limit' : 'auth';
  }
  // In clear only in plaintext mode: an encrypted connection never takes a packet anyone could forge.
  if (encrypted) return 'unprotected';
  // Restored to another epoch than the one it was sent in (a copy delayed by over 2^15 packets): its
  // checksum does not hold for this number.
  if (h.pnBytes === 2 && Math.floor(pn / 2 ** 16) !== h.epoch) return 'checksum';
  return plainView(data, h.payloadStart, h.payloadEnd - h.payloadStart);
}
