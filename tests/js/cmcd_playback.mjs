// A simulated playback reported by @svta/cml-cmcd's CmcdReporter in CMCD v2 event mode.
//
//   node cmcd_playback.mjs EVENT_TARGET_URL SID CID T0_MS
//
// The reporter POSTs its reports to EVENT_TARGET_URL exactly as a player using the
// library would (method, Content-Type, one report a line, batchSize per request);
// only the event times are given (`ts`), so the test knows the durations they imply.
// Prints one JSON line: the HTTP status of every request the reporter made.
import { CmcdEventType, CmcdReporter } from "@svta/cml-cmcd";

const [url, sid, cid, t0Text] = process.argv.slice(2);
const t0 = Number(t0Text);
const statuses = [];
const pending = [];

function requester(request) {
  const { url: target, ...init } = request;
  const sent = fetch(target, init).then(async (response) => {
    statuses.push({ status: response.status, body: await response.text() });
    return response;
  });
  pending.push(sent);
  return sent;
}

const reporter = new CmcdReporter(
  {
    sid,
    cid,
    eventTargets: [
      {
        url,
        events: [CmcdEventType.PLAY_STATE, CmcdEventType.ERROR],
        batchSize: 3,
        enabledKeys: ["sid", "cid", "sn", "ts", "e", "br", "bl", "pt", "st", "sta", "ec", "v", "msd"],
      },
    ],
  },
  requester,
);

reporter.update({ br: [3000], bl: [4000], st: "v" });
// start, first frame, stall, seek, pause, a non-fatal error, end: offsets in ms from t0.
const timeline = [
  [0, { sta: "s", pt: 0 }],
  [1500, { sta: "p", pt: 0 }],
  [10000, { sta: "r", pt: 8500, bl: [0] }],
  [12500, { sta: "p", pt: 8500, bl: [3000] }],
  [20000, { sta: "k", pt: 16000 }],
  [20800, { sta: "p", pt: 60000 }],
  [30000, { sta: "a", pt: 69200 }],
  [35000, { sta: "p", pt: 69200 }],
];
for (const [offset, data] of timeline) {
  reporter.recordEvent(CmcdEventType.PLAY_STATE, { ...data, ts: t0 + offset });
}
reporter.recordEvent(CmcdEventType.ERROR, { ec: ["MEDIA_ERR_NETWORK"], ts: t0 + 40000 });
reporter.recordEvent(CmcdEventType.PLAY_STATE, { sta: "e", pt: 84200, ts: t0 + 50000 });
reporter.flush();

// The reporter sends without waiting; wait for every request (new ones may start while waiting).
for (let seen = 0; seen < pending.length; seen = pending.length) {
  await Promise.allSettled(pending.slice(seen));
}
console.log(JSON.stringify({ statuses }));
