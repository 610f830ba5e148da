// The user-space filters: process name (exact and glob), role, outcome, minimum duration and bytes.
import { strict as assert } from 'node:assert';
import { globToRegExp } from '../../src/sessions/glob';
import type { FilterSettings } from '../../src/config/settings';
import { compileSessionFilter } from '../../src/sessions/session-filter';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { sampleSession } from '../support/sample-session';

type Spec = Pick<FilterSettings, 'comms' | 'roles' | 'outcomes' | 'min_duration_ms' | 'min_bytes'>;
const NONE: Spec = { comms: [], roles: [], outcomes: [], min_duration_ms: 0, min_bytes: 0 };

function session(over: Partial<TcpSession>): TcpSession {
  return sampleSession(over);
}

describe('session filter (user space)', () => {
  it('is undefined when nothing restricts, so the agent skips it', () => {
    assert.equal(compileSessionFilter(NONE), undefined);
  });

  const cases: Array<[string, Partial<Spec>, Partial<TcpSession>, boolean]> = [
    ['exact name matches', { comms: ['curl'] }, { comm: 'curl' }, true],
    ['exact name is not a prefix', { comms: ['curl'] }, { comm: 'curl2' }, false],
    ['glob *', { comms: ['php-fpm*'] }, { comm: 'php-fpm: pool' }, true],
    ['glob ?', { comms: ['nginx?'] }, { comm: 'nginx1' }, true],
    ['glob ? needs one character', { comms: ['nginx?'] }, { comm: 'nginx' }, false],
    ['glob class', { comms: ['w[0-9]'] }, { comm: 'w7' }, true],
    ['glob negated class', { comms: ['w[!0-9]'] }, { comm: 'w7' }, false],
    ['dots are literal', { comms: ['a.b'] }, { comm: 'axb' }, false],
    ['an unknown owner matches no name, not even *', { comms: ['*'] }, { comm: '' }, false],
    ['* matches any known name', { comms: ['*'] }, { comm: 'x' }, true],
    ['OR within names', { comms: ['a', 'b'] }, { comm: 'b' }, true],
    ['role client', { roles: ['client'] }, { role: 'client' }, true],
    ['role client excludes server', { roles: ['client'] }, { role: 'server' }, false],
    ['a partial session has no role', { roles: ['client', 'server'] }, { role: 'unknown' }, false],
    ['outcome', { outcomes: ['refused'] }, { outcome: 'refused' }, true],
    ['outcome excludes others', { outcomes: ['refused'] }, { outcome: 'closed_locally' }, false],
    ['min duration met', { min_duration_ms: 10 }, { durationNs: 10_000_000 }, true],
    ['min duration missed', { min_duration_ms: 10 }, { durationNs: 9_999_999 }, false],
    ['partial sessions pass a min duration', { min_duration_ms: 10 }, { durationNs: undefined }, true],
    ['min bytes counts both directions', { min_bytes: 10 }, { bytesSent: 4, bytesReceived: 6 }, true],
    ['min bytes missed', { min_bytes: 11 }, { bytesSent: 4, bytesReceived: 6 }, false],
    ['AND across kinds: both hold', { comms: ['curl'], roles: ['client'] }, { comm: 'curl', role: 'client' }, true],
    ['AND across kinds: one fails', { comms: ['curl'], roles: ['client'] }, { comm: 'curl', role: 'server' }, false],
  ];
  for (const [name, spec, over, expected] of cases) {
    it(`${name}: ${expected ? 'passes' : 'excluded'}`, () => {
      const keep = compileSessionFilter({ ...NONE, ...spec });
      assert.ok(keep);
      assert.equal(keep(session(over)), expected);
    });
  }

  it('globs treat regular-expression characters literally', () => {
    for (const [glob, name, expected] of [
      ['a+b', 'a+b', true],
      ['a+b', 'aab', false],
      ['(x)', '(x)', true],
      ['$x^', '$x^', true],
      ['a\\b', 'a\\b', true],
      ['[', '[', true],
      ['x[]', 'x[]', true],
    ] as const) {
      assert.equal(globToRegExp(glob).test(name), expected, `${glob} vs ${name}`);
    }
  });
});
