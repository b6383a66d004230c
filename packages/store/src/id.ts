import { randomBytes } from "node:crypto";

/** Crockford base32: no I, L, O, U, so ids read and type unambiguously. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A ULID: 10 chars of millisecond time + 16 chars of randomness, 26 chars in all. Ids sort (as
 * strings, and so in SQL with the C or any sane collation) by creation time, which makes them a
 * good tie-breaker for keyset pagination. Ids made in the same millisecond by this process
 * increment the random part, so they still sort in creation order.
 */
export function newId(now: number = Date.now()): string {
  let random: number[];
  if (now <= lastTime && lastRandom.length === 16) {
    random = increment(lastRandom);
    now = lastTime;
  } else {
    const bytes = randomBytes(16);
    random = Array.from(bytes, (b) => b & 31);
  }
  lastTime = now;
  lastRandom = random;
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + random.map((d) => ALPHABET[d]).join("");
}

function increment(digits: number[]): number[] {
  const out = digits.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] < 31) {
      out[i]++;
      return out;
    }
    out[i] = 0;
  }
  // 2^80 ids in one millisecond: wrap (never happens in practice).
  return out;
}
