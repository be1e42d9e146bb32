/**
 * User-facing errors of COPY/ADD. Each has a stable `code` and a one-line
 * message naming the path or value at fault.
 */
export class FileOpError extends Error {
  readonly userError = true;
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'FileOpError';
  }
}

const q = (s: string): string => JSON.stringify(s);

export class PathEscapesContextError extends FileOpError {
  constructor(src: string) {
    super('PATH_ESCAPES_CONTEXT', `source path ${q(src)} is outside the build context`);
  }
}

export class SourceNotFoundError extends FileOpError {
  constructor(src: string, where: string, resolvedTo?: string, hint?: string) {
    const via = resolvedTo ? ` (a symlink resolved inside the ${where} to ${q(resolvedTo)})` : '';
    super('SOURCE_NOT_FOUND', `source ${q(src)} not found in the ${where}${via}${hint ? `: ${hint}` : ''}`);
  }
}

export class MultipleSourcesNeedDirError extends FileOpError {
  constructor(instruction: string) {
    super(
      'DEST_NOT_DIRECTORY',
      `When using ${instruction} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
}

export class CannotCopyError extends FileOpError {
  constructor(message: string) {
    super('COPY_CONFLICT', message);
  }
}

export class SymlinkLoopError extends FileOpError {
  constructor(p: string) {
    super('SYMLINK_LOOP', `too many levels of symbolic links resolving ${q(p)}`);
  }
}

export class InvalidChmodError extends FileOpError {
  constructor(value: string) {
    super('INVALID_CHMOD', `invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777, or a symbolic mode like u+x`);
  }
}

export class InvalidChownError extends FileOpError {
  constructor(value: string, reason: string) {
    super('INVALID_CHOWN', `invalid chown parameter ${q(value)}: ${reason}`);
  }
}

export class UnknownUserError extends FileOpError {
  constructor(kind: 'user' | 'group', name: string, file: string) {
    super(kind === 'user' ? 'UNKNOWN_USER' : 'UNKNOWN_GROUP', `unable to find ${kind} ${name}: no matching entries in ${file}`);
  }
}

export class InvalidSourceError extends FileOpError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

export class ArchiveError extends FileOpError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

export class DownloadError extends FileOpError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}
