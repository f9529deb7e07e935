import { startServer, tempDir, type ServerProc, type TestScope } from '../../server/test/forum-processes.js';

/** A TCP proxy in front of the transfer port, as the client tests start them (evicting, forging, holding). */
export interface TransferProxy {
  /** The port it listens on, advertised to clients as the transfer port. */
  readonly port: number;
  /** Sets where it forwards to. */
  target(port: number): void;
  close(): Promise<void>;
}

/**
 * A forum-server whose advertised transfer port is `proxy`'s, forwarding to its real one; the proxy closed, the
 * server stopped and its data and working directories removed with `scope`.
 */
export const serverBehindTransferProxy = async <Proxy extends TransferProxy>(
  scope: TestScope,
  proxy: Proxy,
): Promise<{ readonly proxy: Proxy; readonly server: ServerProc; readonly data: string; readonly cwd: string }> => {
  scope.stops.push(() => void proxy.close());
  const [data, cwd] = [await tempDir('data'), await tempDir('cwd')];
  scope.dirs.push(data, cwd);
  const server = await startServer(data, ['--advertised-transfer-port', String(proxy.port)]);
  scope.servers.push(server);
  proxy.target(server.tcpPort);
  return { proxy, server, data, cwd };
};
