import { guardStandardStreams, terminalText } from 'forum-protocol';
import { HELP, parseClientArgs, USAGE } from './args.js';
import { EXIT } from './exit-status.js';
import { exitAfterOutput } from './exit-after-output.js';
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
  // Output piped to another program is written whole before the exit (process.exit drops queued writes).
  runClient(command.args).then(exitAfterOutput, (e: unknown) => {
    console.error(`forum-client: ${terminalText(e instanceof Error ? e.message : String(e))}`);
    exitAfterOutput(EXIT.internal);
  });
}
