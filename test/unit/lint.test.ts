// The code is linted and formatted as biome.jsonc says (Biome: `npx biome
// check .` shows the findings, `npx biome check --write .` fixes the
// formatting). A finding fails the test suite, so no change lands unformatted.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const BIOME = path.join(ROOT, 'node_modules/@biomejs/biome/bin/biome');

describe('lint and format (Biome)', function () {
  this.timeout(60_000);

  it('biome ci finds nothing in src/ and test/', () => {
    const r = spawnSync(process.execPath, [BIOME, 'ci', '--colors=off', '--max-diagnostics=50', '.'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.error, undefined, `could not run Biome: ${r.error?.message}`);
    assert.equal(r.status, 0, `Biome found problems (fix the formatting with npx biome check --write .):\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /Checked \d+ files/, 'Biome checked the files');
  });

  it('every rule turned off in biome.jsonc says why, and no disable comment lacks a reason', () => {
    const r = spawnSync('git', ['grep', '-n', '-E', 'eslint-disable|biome-ignore', '--', 'src', 'test'], { cwd: ROOT, encoding: 'utf8' });
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .filter((l) => !l.includes('test/unit/lint.test.ts'));
    const bad = lines.filter((l) => /eslint-disable/.test(l) || !/biome-ignore [a-z]+\/[a-zA-Z]+\/[a-zA-Z]+: \S.{8,}/.test(l));
    assert.deepEqual(bad, [], 'eslint comments (there is no eslint) or biome-ignore without a reason');
    const config = require('node:fs').readFileSync(path.join(ROOT, 'biome.jsonc'), 'utf8') as string;
    const offs = config.split('\n').flatMap((line, i, all) => (/"off"/.test(line) && !/^\s*\/\//.test(all[i - 1] ?? '') ? [line.trim()] : []));
    assert.deepEqual(offs, [], 'a rule turned off without a comment above it');
  });
});
