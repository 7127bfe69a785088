/* An upload's speed for "MiB/s" and "time left", smoothed: the rate between two progress
   events jumps about too much to read. */

const MIN_INTERVAL_S = 0.2;

/* Start measuring now; feed the returned function each progress report's bytes so far, and it
   answers bytes per second (0 until a first interval has been measured). */
export function speedMeter() {
  let lastTime = performance.now();
  let lastLoaded = 0;
  let speed = 0;
  return function update(loaded) {
    const now = performance.now();
    const seconds = (now - lastTime) / 1000;
    if (seconds > MIN_INTERVAL_S) {
      const current = (loaded - lastLoaded) / seconds;
      speed = speed ? speed * 0.7 + current * 0.3 : current;
      lastTime = now;
      lastLoaded = loaded;
    }
    return speed;
  };
}
