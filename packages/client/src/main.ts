import { guardStandardStreams } from 'forum-protocol';
import { HELP, parseClientArgs, USAGE } from './args.js';
import { EXIT } from './exit-status.js';
import { runClient } from './forum-client.js';

guardStandardStreams();
const command = parseClientArgs(process.argv.slice(2));
if (command.kind === 'help') {
  console.log(HELP);
} else if (command.kind === 'error') {
  console.error(`forum-client: ${command.message}`);
  console.error(USAGE);
  process.exitCode = EXIT.usage;
} else {
  runClient(command.args).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`forum-client: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(EXIT.internal);
    },
  );
}
