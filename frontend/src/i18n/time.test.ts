import { afterEach, describe, expect, it } from "vitest";
import { setLocale } from "./index";
import { formatDuration, formatRelative, formatTime, formatUtc, utcToZonedInput, zonedInputToUtc, zoneOffsetLabel } from "./time";

afterEach(async () => {
  await setLocale("en", false);
});

describe("times in the crossing point's zone", () => {
  const at = "2026-12-03T12:05:09Z";

  it("shows the point's local time with its offset, not the browser's", () => {
    const now = Date.parse("2026-12-03T13:00:00Z");
    expect(formatTime(at, "Africa/Windhoek", now)).toBe("14:05 GMT+2");
    expect(formatTime(at, "Asia/Karachi", now)).toBe("17:05 GMT+5");
    expect(formatTime(at, "UTC", now)).toBe("12:05 GMT+0");
  });

  it("adds the date when it is not today in that zone", () => {
    const now = Date.parse("2026-12-05T10:00:00Z");
    expect(formatTime(at, "Africa/Johannesburg", now)).toBe("Dec 3, 14:05 GMT+2");
  });

  it("gives UTC for the hover title", () => {
    expect(formatUtc(at)).toBe("2026-12-03 12:05:09 UTC");
  });

  it("reads a time typed in the point's zone as UTC, and back", () => {
    expect(zonedInputToUtc("2026-12-03T14:05", "Africa/Windhoek")).toBe("2026-12-03T12:05:00.000Z");
    expect(zonedInputToUtc("2026-07-01T09:30", "Asia/Karachi")).toBe("2026-07-01T04:30:00.000Z");
    expect(zonedInputToUtc("2026-12-03", "UTC")).toBeNull();
    expect(zonedInputToUtc("not a time", "UTC")).toBeNull();
    expect(utcToZonedInput(at, "Africa/Windhoek")).toBe("2026-12-03T14:05");
  });

  it("names the zone's offset", () => {
    expect(zoneOffsetLabel("Asia/Karachi")).toBe("GMT+5");
  });

  it("says how long ago, in the officer's language", async () => {
    const now = Date.parse(at) + 3 * 60_000;
    expect(formatRelative(at, now)).toBe("3 min. ago");
    await setLocale("ur", false);
    expect(formatRelative(at, now)).not.toBe("3 min. ago");
  });

  it("calls a time a moment either side of the clock 'now', not 'in 1 second'", () => {
    const now = Date.parse(at);
    expect(formatRelative(now + 900, now, "en")).toBe("now");
    expect(formatRelative(now - 3000, now, "en")).toBe("now");
    expect(formatRelative(now - 12_000, now, "en")).toBe("12 sec. ago");
  });

  it("formats durations", () => {
    expect(formatDuration(45_000, "en")).toBe("45s");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000, "en")).toBe("2h 5m");
  });
});
