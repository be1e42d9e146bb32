// Progress events of pulls and pushes, one per blob state change plus byte
// counts while a blob moves. The CLI turns them into lines; the build's
// progress writer can turn them into its own.

import type { Digest } from '../../cache/digest.js';

export type TransferPhase =
  | 'exists' // already in the local store (pull) or in the registry (push)
  | 'mounted' // the registry copied it from another repository (push)
  | 'downloading'
  | 'uploading'
  | 'retrying'
  | 'done';

export interface TransferEvent {
  kind: 'layer' | 'config' | 'manifest';
  digest: Digest;
  size: number;
  phase: TransferPhase;
  /** Bytes moved so far for this blob (downloading/uploading/done). */
  bytes: number;
}

export type ProgressHandler = (event: TransferEvent) => void;
