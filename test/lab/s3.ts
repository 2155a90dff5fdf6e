/**
 * s3rver (an S3-compatible server on Node, from npm) on a loopback address of 127.100.0.0/16, for
 * running the real @aws-sdk/client-s3 against the S3 REST API without AWS: path-style PutObject
 * and GetObject with their headers (Content-Type, Cache-Control), and errors as S3 words them
 * (NoSuchBucket …). It does not verify signatures (any credentials pass); the client signs with
 * its key pair S3RVER / S3RVER anyway. Objects live in a temp directory removed on close.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (opts: { address: string; port: number; silent: boolean; directory: string; configureBuckets: { name: string; configs: string[] }[] }) => S3rverServer;

export const S3_LAB_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Lab {
  endpoint: string;
  close(): Promise<void>;
}

export async function startS3(buckets: string[]): Promise<S3Lab> {
  const directory = await mkdtemp(path.join(tmpdir(), 'dialer-audit-s3-'));
  const address = `127.100.${1 + Math.floor(Math.random() * 250)}.20`;
  const server = new S3rver({ address, port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const { port } = await server.run();
  return {
    endpoint: `http://${address}:${port}`,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
