/**
 * Every program the scripts and tests run must come from a package that
 * scripts/setup installs (or one those depend on), or from what a new
 * machine of this kind already has (test/support/new-machine-packages.txt).
 * What this machine happens to have does not count: a package installed by
 * hand here, or pulled in once as a Recommends, fails this test.
 *
 * The census: every single-word string literal of src/ and test/ that names
 * an executable on PATH (so `ip netns exec NS nft` counts nft), every word
 * of the shell scripts and the Makefile that does, and the programs other
 * programs run for us (INDIRECT), which no scan can see.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Programs run by other programs on our behalf. */
const INDIRECT: Record<string, string> = {
  catatonit: "podman pod create runs it as the pod's pause process (only a Recommends of podman)",
  runc: 'podman --runtime runc runs containers with it',
  modprobe: 'the kernel matrix loads veth in the guest with it',
  depmod: "boot-kernel.sh indexes the guest kernel's modules with it",
};

/** Words the scan finds that name a program but are never run as one. */
const NOT_RUN: Record<string, string> = {
  docker: 'the folder docker/ of this repository',
  java: 'a process name in the service-rule tests',
};

/** Programs no Debian package owns: the machine image's Python, and what `npm ci` installed (npm test puts node_modules/.bin on PATH). */
const NOT_DPKG_PREFIXES = ['/root/.pyenv/', `${path.join(ROOT, 'node_modules')}/`];

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== '.output' && e.name !== 'otlp') out.push(...filesUnder(f, keep));
    } else if (keep(f)) out.push(f);
  }
  return out;
}

const SEARCH = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => d.startsWith('/'));

/** The executable a command name resolves to, or undefined. */
function resolve(name: string): string | undefined {
  for (const dir of SEARCH) {
    const f = path.join(dir, name);
    try {
      if (statSync(f).isFile() && (statSync(f).mode & 0o111) !== 0) return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

function census(): Map<string, string> {
  const found = new Map<string, string>(); // command -> where it was seen
  const note = (word: string, where: string) => {
    if (!found.has(word) && !(word in NOT_RUN) && resolve(word)) found.set(word, where);
  };
  for (const f of [...filesUnder(path.join(ROOT, 'src'), (x) => x.endsWith('.ts')), ...filesUnder(path.join(ROOT, 'test'), (x) => x.endsWith('.ts'))]) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(['"`])([a-z][a-z0-9_.+-]{1,40})\1/g)) note(m[2], path.relative(ROOT, f));
  }
  const shell = [
    ...filesUnder(path.join(ROOT, 'scripts'), () => true),
    ...filesUnder(path.join(ROOT, 'test'), (x) => x.endsWith('.sh')),
    ...filesUnder(path.join(ROOT, 'docker'), (x) => x.endsWith('.sh')),
    path.join(ROOT, '.ci', 'run'),
    path.join(ROOT, 'Makefile'),
  ];
  for (const f of shell) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const code = line.replace(/(^|\s)#.*$/, '');
      for (const m of code.matchAll(/[A-Za-z][A-Za-z0-9_.+-]*/g)) note(m[0], path.relative(ROOT, f));
    }
  }
  for (const name of Object.keys(INDIRECT)) found.set(name, `indirect: ${INDIRECT[name]}`);
  return found;
}

/** The package that owns `file` (usrmerge: dpkg may know it under /bin or /usr/bin). */
function ownerPackage(file: string): string | undefined {
  const real = realpathSync(file);
  const candidates = new Set([file, real]);
  for (const f of [file, real]) {
    if (f.startsWith('/usr/')) candidates.add(f.slice(4));
    else candidates.add(`/usr${f}`);
  }
  for (const f of candidates) {
    const r = spawnSync('dpkg-query', ['-S', f], { encoding: 'utf8' });
    // "pkg: /path"; dpkg-divert's lines ("diversion by dash from: ...") name no owner
    const owner = r.stdout.split('\n').find((l) => l && !l.startsWith('diversion by'));
    if (r.status === 0 && owner) return owner.split(':')[0].split(',')[0].trim();
  }
  return undefined;
}

/** setup's packages and, through Depends and Pre-Depends (never Recommends), all they pull in. */
function installedBySetup(): Set<string> {
  const listed = execFileSync(path.join(ROOT, 'scripts', 'setup'), ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Package} is dpkg-query's format, not a template
  const rows = execFileSync('dpkg-query', ['-W', '-f=${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\n'], { encoding: 'utf8' });
  const depends = new Map<string, string[]>();
  const providers = new Map<string, string[]>();
  for (const row of rows.split('\n').filter(Boolean)) {
    const [pkg, deps, provides] = row.split('\t');
    const names = (text: string) =>
      text
        .split(/[,|]/)
        .map((d) => d.trim().split(/[\s:(]/)[0])
        .filter(Boolean);
    depends.set(pkg, names(deps));
    for (const p of names(provides ?? '')) providers.set(p, [...(providers.get(p) ?? []), pkg]);
  }
  const seen = new Set<string>();
  const queue = [...listed];
  while (queue.length) {
    const p = queue.pop()!;
    for (const q of depends.has(p) ? [p] : (providers.get(p) ?? [])) {
      if (seen.has(q)) continue;
      seen.add(q);
      queue.push(...(depends.get(q) ?? []));
    }
  }
  return seen;
}

describe('install census: what the scripts and tests run, against what the scripts install', function () {
  this.timeout(60_000);

  it('finds the programs it is meant to find (the scan works)', function () {
    const c = census();
    for (const name of ['ip', 'nft', 'python3', 'podman', 'clang', 'bpftool', 'qemu-system-x86_64', 'cpio']) {
      assert.ok(c.has(name), `${name} not in the census: ${[...c.keys()].join(' ')}`);
    }
  });

  it("every one comes from a package scripts/setup installs, its dependencies, or a new machine's own image", function () {
    const base = new Set(
      readFileSync(path.join(ROOT, 'test', 'support', 'new-machine-packages.txt'), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.replace(/:[a-z0-9]+$/, '')), // python3-cffi-backend:amd64 -> python3-cffi-backend
    );
    const setup = installedBySetup();
    const problems: string[] = [];
    for (const [name, where] of census()) {
      const file = resolve(name);
      if (!file) {
        problems.push(`${name} (seen in ${where}): not installed`); // only INDIRECT ones get here
        continue;
      }
      if (NOT_DPKG_PREFIXES.some((p) => file.startsWith(p))) continue;
      const pkg = ownerPackage(file);
      if (!pkg) problems.push(`${name} (${file}, seen in ${where}): no Debian package owns it`);
      else if (!base.has(pkg) && !setup.has(pkg))
        problems.push(`${name} (${file}, seen in ${where}): package ${pkg} is neither installed by scripts/setup nor on a new machine`);
    }
    assert.deepEqual(problems, []);
  });
});
