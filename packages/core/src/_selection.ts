import type { Box } from './_image.js';

export interface RankedTile {
  readonly index: number;
  readonly score: number;
  /** 1-based rank; ties broken by lower index first. */
  readonly rank: number;
}

/** A region given to the VLM: one tile, or several adjacent tiles merged into one crop. */
export interface SelectedRegion {
  readonly tiles: readonly number[];
  readonly box: Box;
  /** Best score among its tiles. */
  readonly score: number;
}

export type SelectionStrategy =
  | { readonly mode: 'top-k'; readonly k: number }
  | { readonly mode: 'adaptive'; readonly margin: number; readonly threshold: number; readonly maxTiles: number };

/** Visual-token accounting: what this selection costs the VLM, next to the alternatives. */
export interface TokenAccounting {
  /** What one region costs. */
  readonly perImage: number;
  /** What the overview costs (differs from `perImage` for models whose cost depends on the image size). */
  readonly overview: number;
  /** Images sent: overview (if included) + regions. */
  readonly images: number;
  readonly used: number;
  /** The budget the selection was made under, if any. */
  readonly budget: number | null;
  /** Overview only. */
  readonly baseline: number;
  /** Overview + every tile (LLaVA-NeXT style). */
  readonly allTiles: number;
}

interface SelectionBase {
  readonly includeOverview: boolean;
  /** Every tile's score, aligned with the grid's tiles. */
  readonly scores: readonly number[];
  readonly ranking: readonly RankedTile[];
  readonly strategy: SelectionStrategy;
  readonly tokens: TokenAccounting;
  /** One sentence on why this selection was made, for people. */
  readonly reason: string;
}

/**
 * The result of selection. `overview-only` means no tile was relevant enough (adaptive
 * mode) or the budget allowed none; the VLM then sees just the overview.
 */
export type Selection =
  | (SelectionBase & { readonly kind: 'regions'; readonly regions: readonly SelectedRegion[] })
  | (SelectionBase & { readonly kind: 'overview-only'; readonly regions: readonly [] });
