/**
 * The keying-material exporter of a forum session's rudp connection.
 *
 * TEMPORARY STAND-IN: until rudp's core seals packets and `RudpConnection`
 * has `exportKeyingMaterial`, a connection without it gets a fixed, public
 * exporter. Transfer records are then still checked end to end (a corrupted
 * or cut transfer fails and leaves no file) but are NOT secret or
 * unforgeable: their keys follow from the token alone, which crosses the
 * plain transport. Once the connection has the method it is used as is; the
 * stand-in should then be deleted so a connection without keys fails closed.
 */
import { createExporter } from 'rudp/crypto';
import { nodeCryptoProvider, type KeyingMaterialExporter } from 'rudp';

const PLAIN_TRANSPORT_EXPORTER = createExporter(nodeCryptoProvider, nodeCryptoProvider.sha256(new TextEncoder().encode('forum: rudp session without keys (plain transport)')));

const hasExporter = (conn: object): conn is KeyingMaterialExporter => typeof (conn as { exportKeyingMaterial?: unknown }).exportKeyingMaterial === 'function';

/** Whether `conn` exports keys of its own (false: the plain-transport stand-in is in use). */
export const exportsSessionKeys = (conn: object): boolean => hasExporter(conn);

/** The exporter of `conn` (a rudp connection): its own once it has one, else the plain-transport stand-in. */
export const sessionExporter = (conn: object): KeyingMaterialExporter => (hasExporter(conn) ? conn : PLAIN_TRANSPORT_EXPORTER);
