import { COMMAND_ARGS, ForumCommand } from 'forum-protocol';

/** The flag that lets DWN replace a local file of the same name (client-side; never sent). */
export const OVERWRITE_FLAG = '--overwrite';

const PLACEHOLDER = { title: '<title>', filename: '<filename>', number: '<N>', message: '<message…>' } as const;

/** What each command does, for `help`: a one-line summary, then the details of `help CMD`. */
const ABOUT: Readonly<Record<ForumCommand, { readonly summary: string; readonly details: readonly string[] }>> = {
  CRT: { summary: 'create a thread', details: ['Creates a thread named <title>; you are its creator.'] },
  MSG: { summary: 'post a message to a thread', details: ['Appends your message (spaces allowed) to thread <title>.'] },
  DLT: { summary: 'delete your message N', details: ['Deletes message number <N> of thread <title> if you wrote it; later messages are renumbered.'] },
  EDT: { summary: 'replace the text of your message N', details: ['Replaces the text of message number <N> of thread <title> if you wrote it.'] },
  LST: { summary: 'list the threads', details: ['Lists the titles of every thread.'] },
  RDT: { summary: 'show a thread', details: ['Shows the messages and uploads of thread <title>.'] },
  UPD: { summary: 'upload a file to a thread', details: ['Sends <filename> from this directory to thread <title>.'] },
  DWN: {
    summary: 'download a file of a thread',
    details: [
      'Fetches <filename>, uploaded to thread <title>, into this directory.',
      `A file of that name already here is kept: add ${OVERWRITE_FLAG} to replace it.`,
    ],
  },
  RMV: { summary: 'remove a thread you created', details: ['Removes thread <title> with its messages and uploads (creator only).'] },
  XIT: { summary: 'log out and quit', details: ['Logs out and ends the client (so does Ctrl-D, or Ctrl-C at the prompt).'] },
};

/** `CMD <arg>…` as typed, e.g. `EDT <title> <N> <message…>`. */
export const syntaxOf = (cmd: ForumCommand): string =>
  [cmd, ...COMMAND_ARGS[cmd].map((kind) => PLACEHOLDER[kind]), ...(cmd === 'DWN' ? [`[${OVERWRITE_FLAG}]`] : [])].join(' ');

/** The line added after `Incorrect syntax for CMD`. */
export const usageLine = (cmd: ForumCommand): string => `Usage: ${syntaxOf(cmd)}`;

const COMMANDS = Object.keys(COMMAND_ARGS).filter((c): c is ForumCommand => ForumCommand.is(c));

/** The lines of `help` (no topic) or `help CMD`; an unknown topic says so and lists the commands. */
export const helpLines = (topic?: string): readonly string[] => {
  if (topic !== undefined) {
    const cmd = COMMANDS.find((c) => c === topic.toUpperCase());
    if (cmd !== undefined) return [usageLine(cmd), ...ABOUT[cmd].details.map((d) => `  ${d}`)];
  }
  const width = Math.max(...COMMANDS.map((c) => syntaxOf(c).length));
  return [
    ...(topic === undefined ? [] : [`No command ${topic}; the commands are:`]),
    ...COMMANDS.map((c) => `  ${syntaxOf(c).padEnd(width)}  ${ABOUT[c].summary}`),
    `  ${'help [CMD]'.padEnd(width)}  this list, or one command in detail`,
    'Command words are case-sensitive. Ctrl-C cancels a running transfer.',
  ];
};
