/**
 * The keying-material exporter of a forum session's rudp connection: the
 * transfer keys come from it, so file bytes are as protected as commands. A
 * connection without keys (plaintext) fails closed: no transfer.
 */
import type { KeyingMaterialExporter } from 'rudpx';

const hasExporter = (conn: object): conn is KeyingMaterialExporter & { readonly encrypted?: boolean } =>
  typeof (conn as { exportKeyingMaterial?: unknown }).exportKeyingMaterial === 'function' && (conn as { encrypted?: unknown }).encrypted !== false;

/** Whether `conn` exports keys of its own (an encrypted rudp connection). */
export const exportsSessionKeys = (conn: object): boolean => hasExporter(conn);

/** The exporter of `conn` (a rudp connection); throws for a connection without keys, so no transfer runs unprotected. */
export const sessionExporter = (conn: object): KeyingMaterialExporter => {
  if (!hasExporter(conn)) throw new Error('this session has no keys: file transfers need an encrypted connection');
  return conn;
};
