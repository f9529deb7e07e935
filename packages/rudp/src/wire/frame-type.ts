/**
 * The type byte each frame of a DATA payload starts with (the table in
 * frame.ts).
 */

/** Frame type bytes. */
export const FrameType = { Padding: 0, Ping: 1, Ack: 2, Fragment: 3, MaxData: 4, Close: 5, Message: 6, Repair: 7, MessageAck: 8, Channel: 9, Datagram: 10, PathChallenge: 11, PathResponse: 12, Blocked: 13, Window: 14 } as const;
