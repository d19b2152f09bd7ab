// Failures the caller can tell apart by exit code (see usage in config.ts).

// UsageError: bad flags, environment or annotations; nothing was sent.
export class UsageError extends Error {
  readonly exitCode = 2;
}

// DeniedError: the API server refused the Deployment, e.g. the webhook's
// denial with every problem it found.
export class DeniedError extends Error {
  readonly exitCode = 3;
}

// GatewayRefusedError: the gateway answered 401 (no valid token) or 403 (the
// token's identity may not use this server).
export class GatewayRefusedError extends Error {
  readonly exitCode = 4;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof DeniedError || err instanceof GatewayRefusedError) {
    return err.exitCode;
  }
  return 1;
}
