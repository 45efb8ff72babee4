import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gatewayDecider, isPortFree, portDecider, type PortState } from './gateway';
import type { CreateGateway, PortCommand, PortConfig, PortEvent } from './events';
import { specFor, stateAfter } from '../shared/spec';
import { DomainError } from '../shared/errors';

const AT = '2026-11-23T10:00:00.000Z';
const at = (s: number) => new Date(Date.parse(AT) + s * 1000).toISOString();

describe('gateway decider', () => {
  const given = specFor(gatewayDecider);
  const ports: PortConfig[] = [
    { number: 1, ani: '+14155550001' },
    { number: 2, ani: '+14155550002' },
  ];
  const create = (over: Partial<CreateGateway['data']> = {}): CreateGateway => ({
    type: 'CreateGateway',
    data: { gatewayId: 'gw1', name: 'NYC trunk', region: 'us-east', ports, at: AT, ...over },
  });
  it('→ GatewayCreated', () => given([]).when(create()).then([{ type: 'GatewayCreated', data: create().data }]));
  it('twice → CONFLICT', () => given([{ type: 'GatewayCreated', data: create().data }]).when(create()).thenThrows('CONFLICT'));
  it('no port → BAD_USER_INPUT', () => given([]).when(create({ ports: [] })).thenThrows('BAD_USER_INPUT', /at least one port/));
  it('a port number twice → BAD_USER_INPUT', () =>
    given([]).when(create({ ports: [{ number: 1, ani: '+14155550001' }, { number: 1, ani: '+14155550002' }] })).thenThrows('BAD_USER_INPUT', /twice/));
  it('an ANI twice → BAD_USER_INPUT', () =>
    given([]).when(create({ ports: [{ number: 1, ani: '+14155550001' }, { number: 2, ani: '+14155550001' }] })).thenThrows('BAD_USER_INPUT', /two ports/));
  it('an ANI that is not E.164 → BAD_USER_INPUT', () => given([]).when(create({ ports: [{ number: 1, ani: '555-0001' }] })).thenThrows('BAD_USER_INPUT', /E\.164/));
  it('a negative port number → BAD_USER_INPUT', () => given([]).when(create({ ports: [{ number: -1, ani: '+14155550001' }] })).thenThrows('BAD_USER_INPUT'));
  it('empty name or region → BAD_USER_INPUT', () => {
    given([]).when(create({ name: '' })).thenThrows('BAD_USER_INPUT');
    given([]).when(create({ region: ' ' })).thenThrows('BAD_USER_INPUT');
  });
});

describe('port decider', () => {
  const given = specFor(portDecider);
  const seize = (callId: string, s = 0): PortCommand => ({
    type: 'SeizePort',
    data: { gatewayId: 'gw1', port: 1, ani: '+14155550001', callId, merchantId: 'm1', at: at(s) },
  });
  const seized = (callId: string, s = 0): PortEvent => ({ type: 'PortSeized', data: { ...(seize(callId, s).data as Extract<PortCommand, { type: 'SeizePort' }>['data']) } });
  const release = (callId: string, s = 60, quarantineSeconds = 30): PortCommand => ({
    type: 'ReleasePort',
    data: { gatewayId: 'gw1', port: 1, callId, quarantineSeconds, at: at(s) },
  });
  const released = (callId: string, s = 60, quarantineSeconds = 30): PortEvent => ({
    type: 'PortReleased',
    data: { gatewayId: 'gw1', port: 1, ani: '+14155550001', callId, merchantId: 'm1', quarantineUntil: at(s + quarantineSeconds), at: at(s) },
  });

  it('a fresh port → PortSeized', () => given([]).when(seize('c1')).then([seized('c1')]));
  it('a port held by another call → NO_PORT', () => given([seized('c1')]).when(seize('c2', 5)).thenThrows('NO_PORT', /busy/));
  it('the same call seizing again → [] (a retried command)', () => given([seized('c1')]).when(seize('c1', 5)).then([]));
  it('release by the holder → PortReleased with quarantineUntil = at + quarantine', () => given([seized('c1')]).when(release('c1')).then([released('c1')]));
  it('release twice → []', () => given([seized('c1'), released('c1')]).when(release('c1', 61)).then([]));
  it('release by a call that does not hold the port → []', () => given([seized('c1')]).when(release('c2')).then([]));
  it('release of a never-seized port → []', () => given([]).when(release('c1')).then([]));
  it('during the ANI quarantine → NO_PORT', () => given([seized('c1'), released('c1')]).when(seize('c2', 89)).thenThrows('NO_PORT', /quarantine/));
  it('at the end of the quarantine → PortSeized', () => given([seized('c1'), released('c1')]).when(seize('c2', 90)).then([seized('c2', 90)]));
  it('quarantine 0 frees the port at once', () => given([seized('c1'), released('c1', 60, 0)]).when(seize('c2', 60)).then([seized('c2', 60)]));
  it('a negative quarantine → BAD_USER_INPUT', () => given([seized('c1')]).when(release('c1', 60, -1)).thenThrows('BAD_USER_INPUT'));
  it('an ANI that is not E.164 → BAD_USER_INPUT', () =>
    given([]).when({ type: 'SeizePort', data: { gatewayId: 'gw1', port: 1, ani: 'anonymous', callId: 'c1', merchantId: 'm1', at: AT } }).thenThrows('BAD_USER_INPUT'));
  it('isPortFree follows seizure and quarantine', () => {
    assert.equal(isPortFree(portDecider.initialState, new Date(AT)), true);
    assert.equal(isPortFree(stateAfter(portDecider, [seized('c1')]), new Date(at(10))), false);
    const after = stateAfter(portDecider, [seized('c1'), released('c1')]);
    assert.equal(isPortFree(after, new Date(at(89))), false);
    assert.equal(isPortFree(after, new Date(at(90))), true);
  });

  it('property: whatever seize/release sequence, a port is never held by two calls and only the holder releases it', () => {
    const arbCmd = fc.tuple(fc.boolean(), fc.constantFrom('c1', 'c2', 'c3'), fc.integer({ min: 0, max: 40 }));
    fc.assert(
      fc.property(fc.array(arbCmd, { maxLength: 40 }), (cmds) => {
        let state: PortState = portDecider.initialState;
        let clock = 0;
        for (const [isSeize, callId, step] of cmds) {
          clock += step;
          const cmd = isSeize ? seize(callId, clock) : release(callId, clock, 20);
          let events: PortEvent[] = [];
          try {
            events = portDecider.decide(cmd, state);
          } catch (e) {
            assert.ok(e instanceof DomainError && e.code === 'NO_PORT');
            assert.ok(state.status === 'Seized' || !isPortFree(state, new Date(at(clock))));
            continue;
          }
          for (const e of events) {
            if (e.type === 'PortSeized') assert.ok(isPortFree(state, new Date(e.data.at)), 'seized while not free');
            if (e.type === 'PortReleased') assert.ok(state.status === 'Seized' && state.callId === e.data.callId, 'released by a non-holder');
            state = portDecider.evolve(state, e);
          }
        }
      }),
    );
  });
});
