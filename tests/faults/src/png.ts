/** Gray PNG fixtures, encoded by pngjs (the PNG library core already uses). */
import pngjs from "pngjs";

/** An 8-bit gray PNG of `size` x `size` whose pixel (x, y) is `(x * 16 + y * 8 + seed * 29) % 256`. */
export function grayPng(size: number, seed: number): Buffer {
  const png = new pngjs.PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = (x * 16 + y * 8 + seed * 29) % 256;
      png.data.set([v, v, v, 255], (y * size + x) * 4);
    }
  }
  return pngjs.PNG.sync.write(png, { colorType: 0 });
}
