// User-facing errors of the remote client and the server: a bad --host,
// a refused connection or certificate, a version mismatch.

export type RemoteErrorCode =
  | 'REMOTE_ADDRESS'
  | 'REMOTE_UNREACHABLE'
  | 'REMOTE_PROTOCOL'
  | 'REMOTE_VERSION'
  | 'REMOTE_AUTH'
  | 'REMOTE_HOST_KEY'
  | 'REMOTE_UNSUPPORTED'
  | 'SERVE_CONFIG';

export class RemoteError extends Error {
  readonly userError = true;
  constructor(readonly code: RemoteErrorCode, message: string) {
    super(message);
  }
}
