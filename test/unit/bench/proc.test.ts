import assert from 'node:assert/strict';
import { machineInfo } from '../../../bench/proc.js';

describe('bench machineInfo', () => {
  const saved = process.env['NODE_OPTIONS'];
  afterEach(() => {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  });

  it('records the NODE_OPTIONS a run was given (they move its figures), and none when there were none', () => {
    process.env['NODE_OPTIONS'] = '--max-semi-space-size=8';
    assert.match(machineInfo().flags ?? '', /^NODE_OPTIONS=--max-semi-space-size=8/);
    delete process.env['NODE_OPTIONS'];
    const m = machineInfo();
    assert.equal(m.flags, process.execArgv.length > 0 ? process.execArgv.join(' ') : undefined);
    assert.equal(m.node, process.version);
  });
});
