import { SESSION_COOKIE } from "../../../src/server/auth";

export const dynamic = "force-dynamic";

export async function POST(): Promise<Response> {
  return new Response(null, {
    status: 303,
    headers: {
      location: "/login",
      "set-cookie": `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
    },
  });
}
