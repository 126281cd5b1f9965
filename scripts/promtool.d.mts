// Types of scripts/promtool.mjs (plain ESM, run before anything is compiled).
export class PromtoolError extends Error {}
export const TOOLS: ReadonlyArray<{ tool: string; pkg: string }>;
export function locate(cmd: string, env?: NodeJS.ProcessEnv): string | null;
export function ensurePromtool(opts?: { log?: (msg: string) => void; env?: NodeJS.ProcessEnv }): {
  promtool: string;
  prometheus: string;
  amtool: string;
  version: string | null;
};
