import assert from 'node:assert/strict';
import { FAILED_PATH_PTOS, selectDataPath, type PathCandidate } from '../../../src/quic/connection/scheduler.js';

const path = (id: number, srtt: number, more: Partial<PathCandidate> = {}): PathCandidate => ({ id, usable: true, backup: false, ptoCount: 0, srtt, minRtt: srtt, ...more });

describe('multipath scheduler: which path carries new data', () => {
  it('the working available path with the lowest minimum RTT, then smoothed RTT; ties go to the older path', () => {
    assert.equal(selectDataPath([path(0, 50), path(1, 20), path(2, 30)]), 1);
    assert.equal(selectDataPath([path(0, 20), path(1, 20)]), 0);
    assert.equal(selectDataPath([path(0, 30, { minRtt: 20 }), path(1, 25, { minRtt: 20 })]), 1);
  });

  it('a loaded path whose smoothed RTT grew with its own queue keeps the data over an idle slower one (min RTT)', () => {
    // The direct path: 0.2 ms propagation, 60 ms smoothed under load; the relay: 20 ms idle.
    assert.equal(selectDataPath([path(0, 20, { minRtt: 20 }), path(1, 60, { minRtt: 0.2 })]), 1);
  });

  it('unvalidated or abandoned paths and paths with FAILED_PATH_PTOS PTOs are skipped', () => {
    assert.equal(selectDataPath([path(0, 50), path(1, 5, { usable: false })]), 0);
    assert.equal(selectDataPath([path(0, 50), path(1, 5, { ptoCount: FAILED_PATH_PTOS })]), 0);
    assert.equal(selectDataPath([path(0, 50), path(1, 5, { ptoCount: FAILED_PATH_PTOS - 1 })]), 1);
  });

  it('backup paths only when no available path works, then the fastest backup', () => {
    assert.equal(selectDataPath([path(0, 50, { backup: true }), path(1, 80)]), 1);
    assert.equal(selectDataPath([path(0, 50, { backup: true }), path(1, 80, { ptoCount: 5 }), path(2, 40, { backup: true })]), 2);
  });

  it('path 0 when nothing works (the connection’s first path)', () => {
    assert.equal(selectDataPath([path(0, 50, { ptoCount: 9 }), path(1, 5, { usable: false })]), 0);
    assert.equal(selectDataPath([]), 0);
  });
});
