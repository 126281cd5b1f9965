// Types of scripts/test-groups.mjs for the TypeScript tests.
export declare const SUITE_GROUP_TOPICS: readonly { group: string; topic: string }[];
export declare function startGroupsAtEnd(opts: { brokers: string[]; prefix?: string; log?: (msg: string) => void }): Promise<string[]>;
