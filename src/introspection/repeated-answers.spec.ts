import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { MAX_REMEMBERED_ANSWERS, RepeatedAnswers } from './repeated-answers.js';

describe('RepeatedAnswers', () => {
  function clocked(windowMs = 60_000) {
    const clock = { now: 1_000_000 };
    return { answers: new RepeatedAnswers(windowMs, () => clock.now), clock };
  }

  it('records an answer the first time, then counts its repeats within the window', () => {
    const { answers, clock } = clocked();
    assert.equal(answers.toRecord('rs|jti-1|active'), 0);
    for (let i = 0; i < 5; i++) {
      clock.now += 10_000;
      assert.equal(answers.toRecord('rs|jti-1|active'), null, `repeat ${i + 1}`);
    }
  });

  it('records the answer again once the window has passed, with the repeats it did not record', () => {
    const { answers, clock } = clocked();
    assert.equal(answers.toRecord('a'), 0);
    clock.now += 1;
    assert.equal(answers.toRecord('a'), null);
    clock.now += 1;
    assert.equal(answers.toRecord('a'), null);
    clock.now += 59_998;
    assert.equal(answers.toRecord('a'), 2, 'exactly one window after the recorded one');
    clock.now += 59_999;
    assert.equal(answers.toRecord('a'), null, 'the window runs from the last recorded answer');
    clock.now += 1;
    assert.equal(answers.toRecord('a'), 1);
  });

  it('treats another caller, another token or another answer as new', () => {
    const { answers } = clocked();
    for (const answer of ['rs|jti-1|active', 'client|jti-1|active', 'rs|jti-2|active', 'rs|jti-1|inactive:revoked']) {
      assert.equal(answers.toRecord(answer), 0, answer);
    }
    assert.equal(answers.toRecord('rs|jti-1|active'), null);
  });

  it('forgets the least recently given answers beyond its bound, so that they are recorded again', () => {
    const { answers } = clocked();
    assert.equal(answers.toRecord('first'), 0);
    assert.equal(answers.toRecord('second'), 0);
    assert.equal(answers.toRecord('first'), null, 'given again: now the most recent');
    for (let i = 0; i < MAX_REMEMBERED_ANSWERS - 1; i++) answers.toRecord(`other-${i}`);
    assert.equal(answers.toRecord('first'), null, 'still remembered');
    assert.equal(answers.toRecord('second'), 0, 'forgotten, so recorded again');
  });
});
