// The decoder's view of struct session_event against the C struct itself,
// as the built addon reports it (sizeof/offsetof compiled from
// bpf/session_event.h); in e2e because it needs the addon.
import { strict as assert } from 'node:assert';
import { loadAddon } from '../../src/kernel/binding';
import { EVENT_SIZE, FIELDS, FLAG, OWNER, ROLE } from '../../src/kernel/wire';

describe('wire layout (bpf/session_event.h vs src/kernel/wire.ts)', () => {
  const layout = loadAddon().layout();

  it('has the same record size', () => {
    assert.equal(EVENT_SIZE, layout.size);
  });

  it('decodes exactly the fields the C struct has, at the same offsets and sizes', () => {
    assert.deepEqual(Object.keys(FIELDS).sort(), Object.keys(layout.fields).sort());
    for (const [name, f] of Object.entries(FIELDS)) {
      assert.deepEqual({ ...f }, layout.fields[name], `field ${name}`);
    }
  });

  it('uses the same role, flag and owner-source values', () => {
    const c = layout.constants;
    assert.deepEqual(ROLE, { CLIENT: c.ROLE_CLIENT, SERVER: c.ROLE_SERVER, UNKNOWN: c.ROLE_UNKNOWN });
    assert.deepEqual(FLAG, {
      BIRTH_SEEN: c.SESSION_F_BIRTH_SEEN,
      ESTABLISHED: c.SESSION_F_ESTABLISHED,
      OWNER_KNOWN: c.SESSION_F_OWNER_KNOWN,
      FIN_ACKED: c.SESSION_F_FIN_ACKED,
      FIN_RECEIVED: c.SESSION_F_FIN_RECEIVED,
      FOUND_AT_START: c.SESSION_F_FOUND_AT_START,
    });
    assert.deepEqual(OWNER, {
      NONE: c.OWNER_NONE,
      CONNECT: c.OWNER_CONNECT,
      SOCKET_IO: c.OWNER_SOCKET_IO,
      CLOSE: c.OWNER_CLOSE,
      FOUND: c.OWNER_FOUND,
    });
  });
});
