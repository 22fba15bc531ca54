// Errors the ZK client raises, so the driver can tell a dead session from a refused command.

/** The socket closed, could not open, or a reply did not come in time: the session is unusable. */
export class ZkConnectionError extends Error {
  override name = 'ZkConnectionError';
}

/** A reply did not arrive within the timeout. */
export class ZkTimeoutError extends ZkConnectionError {
  override name = 'ZkTimeoutError';
}

/** The terminal refused the comm key. */
export class ZkAuthError extends Error {
  override name = 'ZkAuthError';
}

/** The terminal answered a command with something other than success. */
export class ZkCommandError extends Error {
  override name = 'ZkCommandError';
  constructor(
    message: string,
    readonly replyCode: number,
  ) {
    super(message);
  }
}

/** A bulk download ended short of (or beyond) the size the terminal announced. Never "complete". */
export class ZkIncompleteDownloadError extends Error {
  override name = 'ZkIncompleteDownloadError';
}
