// The code is linted and formatted as biome.jsonc says (Biome: `npx biome
// check .` shows the findings, `npx biome check --write .` fixes the
// formatting). A finding fails the test suite, so no change lands unformatted.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const BIOME = path.join(ROOT, 'node_modules/@biomejs/biome/bin/biome');
const THIS_FILE = path.join(ROOT, 'test/unit/lint.test.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

describe('lint and format (Biome)', function () {
  this.timeout(60_000);

  it('biome ci finds nothing in src/ and test/', () => {
    const r = spawnSync(process.execPath, [BIOME, 'ci', '--colors=off', '--max-diagnostics=50', '.'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.error, undefined, `could not run Biome: ${r.error?.message}`);
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, `Biome found problems (fix the formatting with npx biome check --write .):\n${out}`);
    assert.match(out, /Checked \d+ files/, 'Biome checked the files');
    assert.doesNotMatch(out, /DEPRECATED|deprecated/, 'biome.jsonc uses nothing deprecated');
  });

  it('every rule turned off in biome.jsonc says why, and no disable comment lacks a reason', () => {
    const lines = ['src', 'test']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((f) => f !== THIS_FILE)
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => `${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`)
          .filter((l) => /eslint-disable|biome-ignore/.test(l)),
      );
    assert.ok(
      lines.some((l) => l.includes('biome-ignore')),
      'the scan finds the biome-ignore comments there are',
    );
    const bad = lines.filter((l) => /eslint-disable/.test(l) || !/biome-ignore [a-z]+\/[a-zA-Z]+\/[a-zA-Z]+: \S.{8,}/.test(l));
    assert.deepEqual(bad, [], 'eslint comments (there is no eslint) or biome-ignore without a reason');
    const config = readFileSync(path.join(ROOT, 'biome.jsonc'), 'utf8');
    const offs = config.split('\n').flatMap((line, i, all) => (/"off"/.test(line) && !/^\s*\/\//.test(all[i - 1] ?? '') ? [line.trim()] : []));
    assert.deepEqual(offs, [], 'a rule turned off without a comment above it');
  });
});
