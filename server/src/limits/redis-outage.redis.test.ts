import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import type { LimitRequest } from './limit-store.js';
import { RedisLimitStore } from './redis-limit-store.js';

const request: LimitRequest = {
  key: 'calls:grant:g1',
  counter: 'calls',
  windowMs: 60_000,
  max: 10,
  cost: 1,
  onExceed: 'deny',
  rule: '/all_tools/limits/0',
};

/** A TCP server on a free loopback port that keeps track of its sockets so a test can cut them. */
async function listen(
  onSocket: (socket: Socket) => void,
  port = 0,
): Promise<{ server: Server; port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async cut() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Runs `action` and returns how long it took to reject, failing if it resolved. */
async function timeToReject(action: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await action().then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
  return { ms: performance.now() - started, error };
}

describe('RedisLimitStore when Redis is unavailable', () => {
  const stores: RedisLimitStore[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const keyPrefix = `airlock:test:${randomUUID()}:`;
  const store = (url: string) => {
    const created = new RedisLimitStore({ url, keyPrefix, commandTimeoutMs: 300 });
    stores.push(created);
    return created;
  };

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  describe('when nothing listens on the port', () => {
    it('rejects with LIMITER_UNAVAILABLE at once, on every call', async () => {
      const closed = await listen(() => {});
      await closed.cut();
      const limiter = store(`redis://127.0.0.1:${closed.port}`);

      for (let i = 0; i < 3; i++) {
        const { ms, error } = await timeToReject(() => limiter.consume([request]));
        expect(error).toMatchObject({ name: 'AirlockError', code: 'LIMITER_UNAVAILABLE' });
        expect(ms).toBeLessThan(250);
      }
    });
  });

  describe('when the server accepts connections but never answers', () => {
    it('rejects with LIMITER_UNAVAILABLE after the command timeout', async () => {
      const silent = await listen(() => {});
      cleanups.push(silent.cut);
      const limiter = store(`redis://127.0.0.1:${silent.port}`);

      const { ms, error } = await timeToReject(() => limiter.consume([request]));
      expect(error).toMatchObject({ code: 'LIMITER_UNAVAILABLE' });
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(1000);
    });
  });

  describe.skipIf(!storeEnabled('redis'))('when the connection to a working Redis drops', () => {
    it('rejects calls and refunds while it is down, and works again once Redis is back', async () => {
      const redis = new URL(REDIS_TEST_URL);
      // A loopback proxy in front of the real Redis: cutting it is Redis going away for this store only.
      const pipe = (socket: Socket) => {
        const upstream = createConnection(Number(redis.port || 6379), redis.hostname);
        socket.pipe(upstream).pipe(socket);
        socket.on('close', () => upstream.destroy());
        upstream.on('close', () => socket.destroy());
      };
      let proxy = await listen(pipe);
      const limiter = store(`redis://127.0.0.1:${proxy.port}`);
      const admitted = await limiter.consume([request]);
      if (!admitted.allowed) expect.fail('the first call must be admitted');

      await proxy.cut();
      const { ms, error } = await timeToReject(() => limiter.consume([request]));
      expect(error).toMatchObject({ code: 'LIMITER_UNAVAILABLE' });
      expect(ms).toBeLessThan(500);
      await expect(limiter.refund(admitted.reservation)).rejects.toMatchObject({ code: 'LIMITER_UNAVAILABLE' });

      proxy = await listen(pipe, proxy.port);
      cleanups.push(proxy.cut);
      // ioredis reconnects on its own backoff; poll for that event rather than sleeping a fixed time.
      await vi.waitFor(async () => expect((await limiter.consume([request])).allowed).toBe(true), {
        timeout: 10_000,
        interval: 50,
      });
      await limiter.refund(admitted.reservation);

      const admin = new Redis(REDIS_TEST_URL);
      cleanups.push(async () => {
        await admin.del(`${keyPrefix}log:${request.key}`, `${keyPrefix}meta:${request.key}`);
        await admin.quit();
      });
      // The call admitted after recovery is the only one left: the refund reached Redis.
      expect(await admin.zcard(`${keyPrefix}log:${request.key}`)).toBe(1);
    });
  });
});
