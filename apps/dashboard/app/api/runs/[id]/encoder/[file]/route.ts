import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { encoderFile } from "../../../../../../src/server/encoder-files";
import { refuseUnauthenticated, storeOr503 } from "../../../../../../src/server/export";

export const dynamic = "force-dynamic";

/**
 * A run's encoder as a download (encoder.onnx, encoder.safetensors, the TF.js model.json and its
 * shard) or the test split's embeddings (test-embeddings.parquet), from its latest checkpoint.
 */
export async function GET(
  request: Request,
  ctx: { params: Promise<{ id: string; file: string }> },
): Promise<Response> {
  const refused = refuseUnauthenticated(request);
  if (refused) return refused;
  const { id, file } = await ctx.params;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return Response.json({ error: "invalid run id" }, { status: 400 });
  const store = await storeOr503();
  if (store instanceof Response) return store;
  const result = await encoderFile(store, id, file);
  if ("error" in result) return Response.json({ error: result.error }, { status: result.status });
  const size = statSync(result.path).size;
  const body = Readable.toWeb(createReadStream(result.path)) as ReadableStream<Uint8Array>;
  const inline = file === "model.json" || file.endsWith(".bin");
  return new Response(body, {
    headers: {
      "content-type": result.type,
      "content-length": String(size),
      "cache-control": "private, max-age=60",
      ...(inline ? {} : { "content-disposition": `attachment; filename="${id}-step${result.step}-${file}"` }),
    },
  });
}
