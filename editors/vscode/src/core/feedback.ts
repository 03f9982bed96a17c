/**
 * Accept/reject bookkeeping for `hybrid/completionFeedback` `{id, accepted}`. No `vscode` import.
 *
 * An item is *shown* when a completion result carrying its route arrives. It is *accepted*
 * when its command runs (the editor inserted it). It is *rejected* (best effort) when it was
 * shown, then superseded (a newer result, the cursor moved away, the editor changed) and not
 * accepted within `graceMs` - the grace covers an accept command that runs after the edit
 * which already triggered the next request. Each id is reported at most once.
 */

export interface Feedback {
  id: string;
  accepted: boolean;
}

interface Pending {
  shownAt: number;
  supersededAt?: number;
}

export class FeedbackTracker {
  private readonly pending = new Map<string, Pending>();
  private readonly reported = new Set<string>();
  private readonly maxReported: number;

  constructor(
    readonly graceMs = 1500,
    maxReported = 1000,
  ) {
    this.maxReported = maxReported;
  }

  /** Items of a new result were shown; earlier pending items are superseded by them. */
  shown(ids: Iterable<string>, now: number): void {
    const fresh = [...ids].filter((id) => id !== "" && !this.reported.has(id));
    this.supersede(now, new Set(fresh));
    for (const id of fresh) {
      if (!this.pending.has(id)) {
        this.pending.set(id, { shownAt: now });
      }
    }
  }

  /** Everything pending is dismissed (cursor moved, editor changed, escape). */
  supersede(now: number, except: Set<string> = new Set()): void {
    for (const [id, entry] of this.pending) {
      if (!except.has(id) && entry.supersededAt === undefined) {
        entry.supersededAt = now;
      }
    }
  }

  /** The item's command ran: report it accepted (once). */
  accepted(id: string): Feedback | undefined {
    if (id === "" || this.reported.has(id)) {
      return undefined;
    }
    this.pending.delete(id);
    this.remember(id);
    return { id, accepted: true };
  }

  /** Rejections now due: superseded at least `graceMs` ago and never accepted. */
  due(now: number): Feedback[] {
    const out: Feedback[] = [];
    for (const [id, entry] of this.pending) {
      if (entry.supersededAt !== undefined && now - entry.supersededAt >= this.graceMs) {
        this.pending.delete(id);
        this.remember(id);
        out.push({ id, accepted: false });
      }
    }
    return out;
  }

  /** Ids shown and not yet reported. */
  get pendingIds(): string[] {
    return [...this.pending.keys()];
  }

  private remember(id: string): void {
    this.reported.add(id);
    if (this.reported.size > this.maxReported) {
      const oldest = this.reported.values().next().value;
      if (oldest !== undefined) {
        this.reported.delete(oldest);
      }
    }
  }
}
