// What every page module provides to the router in main.ts.

export interface Page {
  /** Fetches and redraws; called on mount and after an action. */
  refresh(): Promise<void>;
  /** Called on every poll instead of refresh() when present (cheaper, keeps UI state). */
  poll?(): Promise<void>;
  /** Releases timers, charts and listeners when the user leaves the page. */
  unmount?(): void;
}

export type Mount = (root: HTMLElement, params: string[]) => Page;
