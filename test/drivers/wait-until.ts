// Polls a condition; fails with `what` after a generous deadline. Deadlines only stop a hung test,
// they never assert how fast something was (the CI machine is shared).
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
