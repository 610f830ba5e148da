// The README's settings table is the schema's: every key, variable, flag and default.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { configReference } from '../../src/config/reference';

describe('README', () => {
  it('lists every setting exactly as the schema declares it (regenerate with npm run -s config-reference)', () => {
    const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
    const m = /<!-- settings-table:[^\n]*-->\n([\s\S]*?)\n<!-- settings-table end -->/.exec(readme);
    assert.ok(m, 'settings table markers not found');
    assert.equal(m[1], configReference());
  });
});
