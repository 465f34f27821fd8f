import { Lru } from '../common/lru.js';

/** How long a recorded answer stands for the same answer given again to the same caller about the same token. */
export const REPEAT_WINDOW_MS = 60_000;
/** Answers remembered, about 150 bytes each; beyond that the least recently given are forgotten (and recorded again). */
export const MAX_REMEMBERED_ANSWERS = 20_000;

interface Recorded {
  /** When (ms) the answer was last recorded. */
  at: number;
  /** The same answers given since, not recorded. */
  repeats: number;
}

/**
 * Which introspection answers `token.introspected` records. A resource server that introspects on every request it
 * serves asks about the same token many times a second and is told the same thing each time; an event per request
 * would make introspection an audit row (a database write) per call and bury every other event. The trail keeps what
 * an investigation asks — who asked about which token, what they were told, from when to when — by recording an
 * answer when its caller has not been given it about that token within the window, and counting it otherwise: the
 * next one recorded says how many were not. A changed answer (a token revoked, expired) is a new answer, recorded
 * at once. Forgetting an answer early records more, never less.
 */
export class RepeatedAnswers {
  private readonly recorded = new Lru<string, Recorded>(MAX_REMEMBERED_ANSWERS);

  constructor(
    private readonly windowMs = REPEAT_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `answer` identifies the caller, the token and what it was told. Null when the same answer was recorded within
   * the window (it is counted); otherwise how many repeats of it since the last one recorded went unrecorded.
   */
  toRecord(answer: string): number | null {
    const now = this.now();
    const last = this.recorded.get(answer);
    if (last && now - last.at < this.windowMs) {
      last.repeats++;
      return null;
    }
    this.recorded.set(answer, { at: now, repeats: 0 });
    return last?.repeats ?? 0;
  }
}
