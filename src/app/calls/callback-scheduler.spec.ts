import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outcomeOfEnd } from './callback-scheduler';

describe("callback scheduler: a try's outcome from its call's end (issue 25)", () => {
  it('nobody in the center answered → NO_AGENT, whatever ended the ringing', () => {
    for (const cause of ['NO_ANSWER', 'HANGUP', 'ABANDONED', 'FAILED'] as const) assert.equal(outcomeOfEnd(false, cause), 'NO_AGENT', cause);
  });
  it("after the agent answered, the phone leg's end: busy, no answer (declined too), else failed", () => {
    assert.equal(outcomeOfEnd(true, 'BUSY'), 'BUSY');
    assert.equal(outcomeOfEnd(true, 'NO_ANSWER'), 'NO_ANSWER');
    assert.equal(outcomeOfEnd(true, 'REJECTED'), 'NO_ANSWER');
    for (const cause of ['HANGUP', 'FAILED', 'MAX_DURATION', 'NO_PORT'] as const) assert.equal(outcomeOfEnd(true, cause), 'FAILED', cause);
  });
});
