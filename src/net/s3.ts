// Puts the status page into an S3 bucket (Lambda: the page outlives the container). The client
// is built by the entry (src/entry/deps.ts, loaded only when reporters.html.s3 is set); the role
// needs s3:PutObject on the bucket's prefix only.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describeAwsError } from '../state/dynamodb-store.ts';

/** The object key of a file under a prefix: `status` and `status/` both give `status/index.html`. */
export function objectKey(prefix: string, file: string): string {
  return prefix === '' ? file : `${prefix.replace(/\/+$/, '')}/${file}`;
}

export async function putPage(client: S3Client, bucket: string, key: string, html: string, signal?: AbortSignal): Promise<void> {
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: html,
        ContentType: 'text/html; charset=utf-8',
        // Every run rewrites it: browsers and CDNs must ask again.
        CacheControl: 'no-cache',
      }),
      { abortSignal: signal },
    );
  } catch (err) {
    throw new Error(`s3://${bucket}/${key}: not written (${describeAwsError(err)})`);
  }
}
