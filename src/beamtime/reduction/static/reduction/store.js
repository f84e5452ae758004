// What the page keeps in the browser (the server keeps nothing): the working template of
// each instrument, the stashed results and a few choices, as JSON in localStorage.

const PREFIX = "beamtime.reduction.";

export function load(key, fallback) {
  try {
    const text = localStorage.getItem(PREFIX + key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback; // a damaged entry is as good as none
  }
}

/** Store a value; false when the browser's storage is full or switched off. */
export function save(key, value) {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}
