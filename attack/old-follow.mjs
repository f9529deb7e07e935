// Attack round 27 (key-update-real.ts with A27_OLD_FOLLOW=1): a preload for the built server that puts back the
// key-update rule before round 26 (9543a59f): a packet of the peer's next phase is tried with the next keys
// whenever it comes (PacketProtection's mayFollow always true), so the server follows an update in every packet.
import { PacketProtection } from '../packages/rudp/dist/crypto.js';

PacketProtection.prototype.mayFollow = () => true;
