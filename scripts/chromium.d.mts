// Types for scripts/chromium.mjs (imported by test/browser/).
export declare const CHROMIUM_PATH: string;
/** Flags for a headless Chromium here: no sandbox, no GPU, no background networking. */
export declare const CHROMIUM_ARGS: string[];
/** The path of a working Debian Chromium, installing the `chromium` package when missing; throws when it cannot. */
export declare function ensureChromium(): string;
