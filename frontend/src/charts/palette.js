// Run colours: run number i of a chosen list gets colour i in every panel.

// Twelve hues picked to stay apart on white; past them, hues step by the
// golden angle, which keeps neighbours in the list far apart on the wheel.
const BASE = [
  [31, 119, 180], [230, 97, 1], [44, 160, 44], [214, 39, 40],
  [128, 90, 190], [140, 86, 75], [220, 80, 170], [100, 100, 100],
  [170, 170, 20], [20, 170, 190], [0, 60, 130], [250, 170, 40],
];

function hslToRgb(h, s, l) {
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

function rgbAt(index) {
  if (index < BASE.length) return BASE[index];
  return hslToRgb((index * 137.508) % 360, 0.65, 0.42);
}

/** Colour number `index` of the palette, with an optional alpha. */
export function colorAt(index, alpha = 1) {
  const [r, g, b] = rgbAt(index);
  return alpha === 1 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
