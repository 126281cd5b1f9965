// Types of scripts/debian-tools.mjs (plain ESM, run before anything is compiled).
export class ToolError extends Error {}
export interface DebianTool {
  tool: string;
  pkg: string;
}
export const NC: Readonly<DebianTool>;
export function locate(cmd: string, env?: NodeJS.ProcessEnv): string | null;
export function aptInstall(pkgs: readonly string[], opts: { log: (msg: string) => void }): void;
export function ensureTools(
  tools: readonly DebianTool[],
  opts: { log: (msg: string) => void; env?: NodeJS.ProcessEnv; paths?: Record<string, string> },
): Record<string, string>;
