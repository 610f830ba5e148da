// The README is for users and stays short; the reference lives in docs/.
// Every relative link and #anchor in them resolves, every tcplife-otel flag
// they mention exists, and the settings table in docs/configuration.md is
// the schema's (regenerate it with npm run -s config-reference).
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { configReference } from '../../src/config/reference';
import { settings } from '../../src/config/schema';
import { usage } from '../../src/config/usage';

const ROOT = path.resolve(__dirname, '../../../');
const README_MAX_LINES = 300;

/** README.md and docs/*.md, as paths relative to the repository. */
function pages(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

const read = (page: string) => readFileSync(path.join(ROOT, page), 'utf8');

/** A page cut into its fenced code blocks (as lines) and its prose (everything else). */
function split(md: string): { prose: string; fenced: string[] } {
  const prose: string[] = [];
  const fenced: string[] = [];
  let fence: string | undefined;
  for (const line of md.split('\n')) {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence === undefined && m) {
      fence = m[1];
      prose.push('');
    } else if (fence !== undefined) {
      // Closed by a run of the same character, at least as long, and nothing else.
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && m[2].trim() === '') fence = undefined;
      else fenced.push(line);
      prose.push('');
    } else {
      prose.push(line);
    }
  }
  return { prose: prose.join('\n'), fenced };
}

/**
 * The inline code spans of prose (CommonMark: a run of n backticks up to the
 * next run of exactly n), and the prose with them blanked out. A span may
 * run over a line break; its content comes back with whitespace collapsed.
 */
function codeSpans(prose: string): { spans: string[]; rest: string } {
  const spans: string[] = [];
  let rest = '';
  let i = 0;
  while (i < prose.length) {
    if (prose[i] !== '`') {
      rest += prose[i++];
      continue;
    }
    let n = 0;
    while (prose[i + n] === '`') n++;
    const run = '`'.repeat(n);
    let j = i + n;
    let close = -1;
    while ((j = prose.indexOf(run, j)) !== -1) {
      if (prose[j + n] !== '`' && prose[j - 1] !== '`') {
        close = j;
        break;
      }
      while (prose[j] === '`') j++;
    }
    if (close === -1) {
      rest += run; // a literal run of backticks
      i += n;
      continue;
    }
    spans.push(
      prose
        .slice(i + n, close)
        .replace(/\s+/g, ' ')
        .trim(),
    );
    rest += ' '.repeat(close + n - i);
    i = close + n;
  }
  return { spans, rest };
}

/** GitHub's anchor for a heading: lowercase, punctuation other than - and _ dropped, each space a -. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page's headings give, with GitHub's -1, -2... for repeats. */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of split(md).prose.split('\n')) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The link targets of a page's prose: inline links and images, and reference definitions. */
function links(md: string): string[] {
  const { rest } = codeSpans(split(md).prose);
  const out: string[] = [];
  for (const m of rest.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  for (const m of rest.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) out.push(m[1]);
  return out;
}

/** What is wrong with one link of `page`, or undefined. */
function brokenLink(page: string, target: string): string | undefined {
  if (target === '') return 'an empty link';
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // http:, https:, mailto: ...
  const hash = target.indexOf('#');
  const file = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
  if (resolved.startsWith('../') || path.posix.isAbsolute(resolved)) return `${target}: points outside the repository`;
  if (!existsSync(path.join(ROOT, resolved))) return `${target}: no file ${resolved}`;
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith('.md')) return `${target}: an anchor into ${resolved}, which is not Markdown`;
  if (!anchors(read(resolved)).has(anchor)) return `${target}: no heading in ${resolved} has the anchor #${anchor}`;
  return undefined;
}

/**
 * The flags a command-line text names: long ones (--name, without =value)
 * and the letters of short ones (-p, -stT).
 */
function flagsIn(text: string): { long: string[]; short: string[] } {
  const long = [...text.matchAll(/(?<![\w-])--([A-Za-z0-9][A-Za-z0-9-]*)/g)].map((m) => m[1]);
  const short = [...text.matchAll(/(?<![\w-])-([A-Za-z0-9]+)(?![\w-])/g)].flatMap((m) => [...m[1]]);
  return { long, short };
}

/** Commands that take tcplife-otel's flags (scripts/run passes its arguments on). */
const AGENT_COMMANDS = new Set(['tcplife-otel', 'tcplife-otel:', 'scripts/run']);

/**
 * Whether a piece of code is for tcplife-otel: a command line whose first
 * word (after VAR=value assignments) is tcplife-otel or scripts/run, one of
 * the agent's own messages (tcplife-otel: ...), or flags standing alone
 * (`--netns`, `-p PID`). Other tools' commands (ss, podman, npm run ...) are not.
 */
function forAgent(code: string): boolean {
  const words = code
    .trim()
    .replace(/^\$\s+/, '')
    .split(/\s+/);
  while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
  if (!words.length) return false;
  return AGENT_COMMANDS.has(words[0]) || /^-/.test(words[0]);
}

/** The lines of fenced code, with backslash continuations joined and shell comments cut. */
function commandLines(fenced: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const line of fenced) {
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    out.push((pending + line).replace(/\s#\s.*$/, ''));
    pending = '';
  }
  if (pending) out.push(pending);
  return out;
}

describe('README and docs', () => {
  it(`README.md has at most ${README_MAX_LINES} lines (the reference is in docs/)`, () => {
    const lines = read('README.md').replace(/\n$/, '').split('\n').length;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines, more than ${README_MAX_LINES}: move reference text to docs/`);
  });

  it("GitHub's heading anchors are computed as GitHub does", () => {
    assert.equal(slug('JSON lines (`-j`)'), 'json-lines--j');
    assert.equal(slug('Export: our pipeline against the stock OpenTelemetry SDK'), 'export-our-pipeline-against-the-stock-opentelemetry-sdk');
    assert.equal(slug('Linux 5.8 to 5.10: the classic tracepoint'), 'linux-58-to-510-the-classic-tracepoint');
    assert.equal(slug('What is reported, exactly'), 'what-is-reported-exactly');
    assert.equal(slug('`filters.exclude_self`'), 'filtersexclude_self');
    assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n### A b\n')], ['a', 'a-1', 'a-b']);
  });

  it('every relative link in README.md and docs/*.md points to an existing file, and every #anchor to a heading there', () => {
    const problems: string[] = [];
    for (const page of pages()) {
      for (const target of links(read(page))) {
        const broken = brokenLink(page, target);
        if (broken) problems.push(`${page}: ${broken}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('README.md links to every page in docs/', () => {
    const linked = new Set(
      links(read('README.md'))
        .map((t) => t.split('#')[0])
        .map((f) => path.posix.normalize(f)),
    );
    const missing = pages()
      .slice(1)
      .filter((p) => !linked.has(p));
    assert.deepEqual(missing, [], 'docs pages the README does not link to');
  });

  it('every tcplife-otel flag that README.md and docs/*.md name exists', () => {
    const long = new Set<string>();
    const short = new Set<string>();
    for (const [, s] of settings()) {
      if (s.arg) long.add(s.arg);
      if (s.short) short.add(s.short);
      for (const sw of s.switches ?? []) {
        long.add(sw.flag);
        if (sw.short) short.add(sw.short);
      }
    }
    // The actions, which are flags of the command line (src/config/load.ts) but not settings.
    for (const [flag, letter] of [
      ['help', 'h'],
      ['print-config', undefined],
    ] as const) {
      assert.ok(usage().includes(`--${flag}`), `--${flag} is no longer in --help: drop it from this list`);
      long.add(flag);
      if (letter) {
        assert.ok(usage().includes(`-${letter}, --${flag}`), `-${letter} is no longer in --help`);
        short.add(letter);
      }
    }

    const problems: string[] = [];
    for (const page of pages()) {
      const { prose, fenced } = split(read(page));
      const code = [...codeSpans(prose).spans, ...commandLines(fenced)];
      for (const text of code.filter(forAgent)) {
        const named = flagsIn(text);
        for (const f of named.long) if (!long.has(f)) problems.push(`${page}: --${f} is not a flag of tcplife-otel (in \`${text}\`)`);
        // The agent's own messages quote kernel errors (-3): only their long flags count.
        const message = text.trim().startsWith('tcplife-otel:');
        for (const f of message ? [] : named.short) if (!short.has(f)) problems.push(`${page}: -${f} is not a flag of tcplife-otel (in \`${text}\`)`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('docs/configuration.md lists every setting exactly as the schema declares it (regenerate with npm run -s config-reference)', () => {
    const table = (md: string) => /<!-- settings-table:[^\n]*-->\n([\s\S]*?)\n<!-- settings-table end -->/.exec(md);
    const m = table(read('docs/configuration.md'));
    assert.ok(m, 'settings table markers not found in docs/configuration.md');
    assert.equal(m[1], configReference());
    assert.equal(table(read('README.md')), null, 'README.md holds a copy of the settings table: link to docs/configuration.md instead');
  });
});
