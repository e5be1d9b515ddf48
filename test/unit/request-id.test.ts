import { expect } from 'chai';
import { createRequestIds } from '../../src/observability/request-id.js';

describe('request-id: ids for X-Request-Id and log lines', () => {
  it('are distinct within a process and carry a per-process random prefix', () => {
    const a = createRequestIds();
    const b = createRequestIds();
    const ids = Array.from({ length: 1000 }, () => a());
    expect(new Set(ids).size).to.equal(1000);
    for (const id of ids.slice(0, 3)) expect(id).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(b().split('-')[0]).to.not.equal(ids[0]!.split('-')[0]);
  });
});
