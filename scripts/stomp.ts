// A STOMP command-line client for manual testing against a running instance, speaking our own codec (protocol/).
//
//   npm run stomp -- <command> [options]        (or: npx tsx scripts/stomp.ts <command> [options])
//
// Frames go over WebSocket (derived from --url) or plain TCP (--tcp). Exit status: 0 done, 1 failed (an ERROR
// frame, a refused REST call, a lost connection, bad usage). Run with --help for the commands and options.
//
// The parts: stomp/args.ts (options), stomp/connection.ts over stomp/socket.ts (the byte stream the tests and the
// bench clients share), stomp/commands.ts, stomp/rest.ts, stomp/output.ts.
import { StompFailure, UsageError, USAGE, parse } from './stomp/args.js';
import { cmdConnect, cmdHistory, cmdRooms, cmdSend, cmdSubscribe, reportFailure } from './stomp/commands.js';
import { info, out } from './stomp/output.js';
import { Rest, restBase } from './stomp/rest.js';

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    info(`error: ${(err as Error).message} (npm run stomp -- --help)`);
    process.exit(1);
  }
  const { command, args, opts, help } = parsed;
  if (help || opts === null) {
    out(USAGE);
    return;
  }
  const rest = new Rest(restBase(opts.url));
  try {
    switch (command) {
      case 'connect':
        return await cmdConnect(opts, rest);
      case 'subscribe':
        return await cmdSubscribe(opts, rest, args);
      case 'send':
        return await cmdSend(opts, rest, args);
      case 'history':
        return await cmdHistory(opts, rest, args);
      case 'rooms':
        return await cmdRooms(opts, rest);
      case undefined:
        throw new UsageError('no command given');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) info(`error: ${err.message} (npm run stomp -- --help)`);
    else if (err instanceof StompFailure) reportFailure(err);
    else info(`error: ${(err as Error).message}`);
    process.exit(1);
  }
}

await main();
