/**
 * The decode worker's entry (a `node:worker_threads` Worker started by `DecodePool`): it runs the
 * jobs it is sent, at most a few at once, and answers each with its id and the sample's bytes
 * (transferred, not copied) or the reason the file is bad.
 */
import { parentPort } from "node:worker_threads";
import { type DecodeJob, runDecodeJob } from "./decode-job.js";

export interface DecodeRequest extends DecodeJob {
  id: number;
}

export type DecodeReply =
  | { id: number; ok: true; data: Uint8Array<ArrayBuffer> }
  | { id: number; ok: false; reason: string };

const port = parentPort;
if (port) {
  port.on("message", (req: DecodeRequest) => {
    void runDecodeJob(req).then((r) => {
      if (r.ok)
        port.postMessage({ id: req.id, ok: true, data: r.data } satisfies DecodeReply, [r.data.buffer]);
      else port.postMessage({ id: req.id, ok: false, reason: r.reason } satisfies DecodeReply);
    });
  });
}
