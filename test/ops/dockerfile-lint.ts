// A small Dockerfile linter for the rules we hold our image to (hadolint is not available here): a parser
// for the instructions we use, and one check per rule, each returning findings with a stable rule id.

export interface Instruction {
  keyword: string;
  /** Arguments as written, continuation lines joined with a space. */
  args: string;
  line: number;
  stage: number;
}

export interface Stage {
  index: number;
  image: string;
  name: string | null;
  instructions: Instruction[];
}

export interface Finding {
  rule: string;
  line: number;
  message: string;
}

/** Parses a Dockerfile: comments dropped, `\` continuations joined, instructions grouped by FROM stage. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let raw = lines[i]!;
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    while (/\\\s*$/.test(raw) && i + 1 < lines.length) {
      raw = raw.replace(/\\\s*$/, ' ');
      i++;
      const next = lines[i]!;
      if (!/^\s*#/.test(next)) raw += next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(raw);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim().replace(/\s+/g, ' ');
    if (keyword === 'FROM') {
      const fm = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ index: stages.length, image: fm?.[1] ?? args, name: fm?.[2] ?? null, instructions: [] });
    }
    const stage = stages[stages.length - 1];
    if (stage) stage.instructions.push({ keyword, args, line: start + 1, stage: stage.index });
  }
  return stages;
}

/** `["a", "b"]` → ['a', 'b']; null when the instruction is in shell form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  try {
    const v = JSON.parse(args) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

/** An image reference pinned to a version: a tag with a digit that is not `latest`, or a digest. */
export function isPinnedImage(ref: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return false; // no tag: implicitly latest
  const tag = ref.slice(colon + 1);
  return tag !== 'latest' && /\d/.test(tag) && !/(^|[-.])latest($|[-.])/.test(tag);
}

/** HEALTHCHECK's command: the part after its options and `CMD`. */
function healthcheckCommand(args: string): string {
  return args.replace(/^(--[a-z-]+=\S+\s+)*/, '').replace(/^CMD\s+/i, '');
}

/** Checks one Dockerfile against our rules; [] when it passes. */
export function lintDockerfile(text: string): Finding[] {
  const stages = parseDockerfile(text);
  const findings: Finding[] = [];
  const add = (rule: string, line: number, message: string) => findings.push({ rule, line, message });
  if (stages.length === 0) {
    add('no-from', 1, 'no FROM instruction');
    return findings;
  }
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const s of stages) {
    const from = s.instructions[0]!;
    if (!names.has(s.image) && !isPinnedImage(s.image)) add('pinned-from', from.line, `FROM ${s.image} is not pinned to a version tag or digest`);
  }
  const final = stages[stages.length - 1]!;
  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const lastUser = users[users.length - 1];
  if (!lastUser) add('non-root-user', final.instructions[0]!.line, 'the final stage has no USER: it runs as root');
  else if (/^(root|0)(:.*)?$/.test(lastUser.args)) add('non-root-user', lastUser.line, `the final stage runs as ${lastUser.args}`);

  const hc = final.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
  if (hc.length === 0 || /^NONE$/i.test(hc[hc.length - 1]!.args)) add('healthcheck', final.instructions[0]!.line, 'the final stage has no HEALTHCHECK');
  for (const h of hc) {
    const cmd = healthcheckCommand(h.args);
    if (/\b(curl|wget)\b/.test(cmd)) add('healthcheck-no-curl', h.line, 'HEALTHCHECK uses curl/wget, which the slim image does not have');
  }

  for (const kw of ['CMD', 'ENTRYPOINT']) {
    const all = final.instructions.filter((i) => i.keyword === kw);
    const last = all[all.length - 1];
    if (kw === 'CMD' && !last && !final.instructions.some((i) => i.keyword === 'ENTRYPOINT')) add('cmd', final.instructions[0]!.line, 'no CMD or ENTRYPOINT');
    for (const i of all) {
      const argv = execForm(i.args);
      if (!argv) add('exec-form', i.line, `${kw} in shell form (signals would go to /bin/sh, not to node): ${i.args}`);
      else if (argv[0] === 'npm' || argv[0] === 'yarn' || argv[0] === 'npx' || (argv[0] === 'sh' && /\bnpm\b/.test(argv.join(' '))))
        add('no-npm-start', i.line, `${kw} runs ${argv.join(' ')}: npm does not forward signals and needs dev tooling; run node directly`);
    }
  }

  for (const st of stages) {
    for (const i of st.instructions) {
      if (i.keyword === 'ADD' && /(^|\s)(https?|ftp):\/\//i.test(i.args)) add('no-add-url', i.line, 'ADD of a URL: download in a RUN with a checksum, or COPY');
      if (i.keyword === 'RUN' && /\bapt-get\s+(-\S+\s+)*install\b/.test(i.args)) {
        if (!/--no-install-recommends/.test(i.args)) add('apt-no-recommends', i.line, 'apt-get install without --no-install-recommends');
        if (!/\s(-y|--yes|-qy|-yq)\b/.test(i.args)) add('apt-yes', i.line, 'apt-get install without -y');
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(i.args)) add('apt-cleanup', i.line, 'apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN');
        if (!/\bapt-get\s+(-\S+\s+)*update\b/.test(i.args))
          add('apt-update', i.line, 'apt-get install without apt-get update in the same RUN (stale cached lists)');
      }
      if (i.keyword === 'RUN' && /\bsudo\b/.test(i.args)) add('no-sudo', i.line, 'sudo in RUN');
      if (i.keyword === 'WORKDIR' && !i.args.startsWith('/') && !i.args.startsWith('$')) add('absolute-workdir', i.line, `WORKDIR ${i.args} is relative`);
    }
  }
  return findings;
}
