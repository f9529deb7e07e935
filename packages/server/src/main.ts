import { resolve } from 'node:path';
import { HELP, parseServerArgs, USAGE } from './args.js';
import { redactUrl, startForumServer } from './forum-server.js';

const main = async (): Promise<number | undefined> => {
  const command = parseServerArgs(process.argv.slice(2), process.env);
  if (command.kind === 'help') {
    console.log(HELP);
    return 0;
  }
  if (command.kind === 'error') {
    console.error(`forum-server: ${command.message}`);
    console.error(USAGE);
    return 2;
  }
  const { args } = command;
  const dataDir = resolve(args.dataDir);
  let server;
  try {
    server = await startForumServer({
      port: args.port,
      host: args.host,
      dataDir,
      ...(args.databaseUrl === undefined ? {} : { databaseUrl: args.databaseUrl }),
      idleTimeoutMs: args.idleTimeoutSeconds * 1000,
      transferPort: args.transferPort,
      ...(args.advertisedTransferPort === undefined ? {} : { advertisedTransferPort: args.advertisedTransferPort }),
      hashPasswords: args.hashPasswords,
      loginRateLimit: args.loginLimit,
      log: (line) => console.log(line),
      warn: (line) => console.error(line),
    });
  } catch (e) {
    console.error(`forum-server: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  console.log('Waiting for clients');
  const where = args.databaseUrl === undefined ? `data directory ${dataDir}` : `database ${redactUrl(args.databaseUrl)}`;
  console.error(`forum-server: UDP ${args.host}:${server.udpPort}, TCP ${server.tcpPort}, ${where}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Ctrl-D ends a server run at a terminal; a server started with no terminal (a service, `&`) keeps running.
  if (process.stdin.isTTY) {
    process.stdin.on('end', stop);
    process.stdin.resume();
  }
  return undefined;
};

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`forum-server: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
