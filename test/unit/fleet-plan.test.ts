// The wave planner as a pure function: promotion through groups, soak, halts,
// pins, untested releases; and properties over many random fleets.
import { describe, expect, it } from "vitest";
import { type HealthCondition, parseDuration, type PlanInput, planRollout, type SiteReport } from "../../components/fleet";

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const HOUR = 3_600_000;
const T0 = Date.parse("2026-12-01T00:00:00Z");
const health: HealthCondition = { tests: true, boot: true, probe: false };
const groups = [
    { name: "canary", sites: ["o/p/c1"] },
    { name: "wave-1", sites: ["o/p/w1", "o/p/w2"] },
    { name: "rest", sites: ["o/p/r1"] },
];
const ok = { passed: 2, total: 2 };
const site = (group: string, digest: string, since: number, extra: Partial<SiteReport> = {}): SiteReport => ({
    group,
    images: { web: { digest, since: new Date(since).toISOString(), tests: ok } },
    ...extra,
});

function input(over: Partial<PlanInput> = {}): PlanInput {
    return {
        groups,
        images: ["web"],
        release: { web: { digest: D(2), version: "2.0.0", tests: ok } },
        current: { canary: { web: D(1) }, "wave-1": { web: D(1) }, rest: { web: D(1) } },
        reports: {
            "o/p/c1": site("canary", D(1), T0 - 48 * HOUR),
            "o/p/w1": site("wave-1", D(1), T0 - 48 * HOUR),
            "o/p/w2": site("wave-1", D(1), T0 - 48 * HOUR),
            "o/p/r1": site("rest", D(1), T0 - 48 * HOUR),
        },
        soakSeconds: 7200,
        health,
        now: T0,
        ...over,
    };
}
const web = (p: ReturnType<typeof planRollout>, group: string) => p.groups.find((g) => g.name === group)!.images.web;

describe("the wave planner", () => {
    it("moves the canary to the hub's tested release; later groups keep what the group before them runs", () => {
        const p = planRollout(input());
        expect(web(p, "canary")).toMatchObject({ digest: D(2), current: D(1), status: "promote" });
        expect(web(p, "canary").reason).toContain("latest tested release 2.0.0");
        expect(web(p, "wave-1")).toMatchObject({ digest: D(1), status: "current", offered: D(1) });
        expect(web(p, "rest")).toMatchObject({ digest: D(1), status: "current" });
    });

    it("offers a group what the group before it runs, not a release that reaches the canary in the same plan", () => {
        const reports = { ...input().reports, "o/p/c1": site("canary", D(2), T0 - HOUR) };
        const p = planRollout(input({ release: { web: { digest: D(3), version: "3.0.0", tests: ok } }, current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports }));
        expect(web(p, "canary")).toMatchObject({ digest: D(3), status: "promote" });
        expect(web(p, "wave-1")).toMatchObject({ digest: D(1), status: "waiting", offered: D(2) });
        const missing = { ...input().reports, "o/p/c1": site("canary", D(1), T0 - HOUR) };
        const q = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports: missing }));
        expect(web(q, "wave-1").reason).toBe(`waiting for canary: o/p/c1 runs ${D(1).slice(7, 19)}, not ${D(2).slice(7, 19)}`);
    });

    it("waits for the soak time once every canary site runs the digest, saying until when", () => {
        const reports = { ...input().reports, "o/p/c1": site("canary", D(2), T0 - HOUR) };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports }));
        expect(web(p, "canary").status).toBe("current");
        expect(web(p, "wave-1")).toMatchObject({ digest: D(1), status: "waiting", waitUntil: "2026-12-01T01:00:00.000Z" });
        expect(web(p, "wave-1").reason).toContain("waiting until 2026-12-01T01:00:00.000Z: canary soaks");
    });

    it("promotes the next group once the soak passed, and only one group per step", () => {
        const reports = { ...input().reports, "o/p/c1": site("canary", D(2), T0 - 3 * HOUR) };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports }));
        expect(web(p, "wave-1")).toMatchObject({ digest: D(2), status: "promote" });
        // rest keeps what wave-1 ran before this step.
        expect(web(p, "rest")).toMatchObject({ digest: D(1), status: "current" });
    });

    it("starts the soak at the last site of the group that released the digest", () => {
        const reports = { ...input().reports, "o/p/w1": site("wave-1", D(2), T0 - 5 * HOUR), "o/p/w2": site("wave-1", D(2), T0 - HOUR / 2) };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(2) }, rest: { web: D(1) } }, reports }));
        expect(web(p, "rest").waitUntil).toBe(new Date(T0 - HOUR / 2 + 2 * HOUR).toISOString());
    });

    it("halts the rollout when a canary site is unhealthy: no later group moves, and preview says why", () => {
        const reports = {
            ...input().reports,
            "o/p/c1": site("canary", D(2), T0 - 10 * HOUR, { health: { healthy: false, checkedAt: "2026-12-01T00:00:00Z", detail: "GET http://127.0.0.1:9/healthz: 503 Service Unavailable" } }),
        };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(0) } }, reports }));
        expect(web(p, "wave-1")).toMatchObject({ digest: D(1), status: "halted" });
        expect(web(p, "wave-1").reason).toContain("o/p/c1 is unhealthy on");
        expect(web(p, "wave-1").reason).toContain("503 Service Unavailable");
        // rest lags behind wave-1 but does not catch up while the rollout is halted.
        expect(web(p, "rest")).toMatchObject({ digest: D(0), status: "halted" });
        expect(web(p, "rest").reason).toContain("rollout halted at canary");
    });

    it("counts failed tests or a failed boot on a site as unhealthy", () => {
        const failing = site("canary", D(2), T0 - 10 * HOUR);
        failing.images.web.boot = { targetReached: false };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports: { ...input().reports, "o/p/c1": failing } }));
        expect(web(p, "wave-1").status).toBe("halted");
        expect(
            planRollout(
                input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports: { ...input().reports, "o/p/c1": failing }, health: { ...health, boot: false } }),
            ).groups[1].images.web.status,
        ).toBe("promote");
    });

    it("requires a probe when rollout.health.probe is set", () => {
        const reports = { ...input().reports, "o/p/c1": site("canary", D(2), T0 - 10 * HOUR) };
        const p = planRollout(input({ current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } }, reports, health: { ...health, probe: true } }));
        expect(web(p, "wave-1").status).toBe("halted");
        expect(web(p, "wave-1").reason).toContain("reports no health probe");
    });

    it("never moves the canary to an untested release", () => {
        const p = planRollout(input({ release: { web: { digest: D(2), version: "2.0.0", tests: { passed: 1, total: 2 } } } }));
        expect(web(p, "canary")).toMatchObject({ digest: D(1), status: "waiting" });
        expect(web(p, "canary").reason).toContain("did not all pass (1/2)");
        const booted = planRollout(input({ release: { web: { digest: D(2), version: "2.0.0", tests: ok, boot: { targetReached: false } } } }));
        expect(web(booted, "canary").digest).toBe(D(1));
    });

    it("rolls back by a pin: the group's channel goes to the pinned digest, and the next group is offered that", () => {
        const g = [{ ...groups[0], pins: { web: D(1) } }, groups[1], groups[2]];
        const p = planRollout(input({ groups: g, current: { canary: { web: D(2) }, "wave-1": { web: D(1) }, rest: { web: D(1) } } }));
        expect(web(p, "canary")).toMatchObject({ digest: D(1), current: D(2), status: "pinned" });
        expect(web(p, "canary").reason).toContain("rollback");
        expect(web(p, "wave-1")).toMatchObject({ digest: D(1), status: "current" });
    });

    it("waits for sites that publish nothing yet and for sites that report another group", () => {
        const reports = { ...input().reports, "o/p/c1": undefined };
        expect(web(planRollout(input({ current: { canary: { web: D(2) }, "wave-1": {}, rest: {} }, reports })), "wave-1")).toMatchObject({
            digest: null,
            status: "waiting",
            reason: "waiting for canary: o/p/c1 publishes no outputs yet",
        });
        const other = { ...input().reports, "o/p/c1": site("rest", D(2), T0 - 10 * HOUR) };
        expect(web(planRollout(input({ current: { canary: { web: D(2) }, "wave-1": {}, rest: {} }, reports: other })), "wave-1").reason).toContain("reports group rest, not canary");
    });

    it("gives a brand-new fleet its first release through the canary only", () => {
        const p = planRollout(input({ current: {}, reports: {} }));
        expect(p.groups.map((g) => g.images.web.digest)).toEqual([D(2), null, null]);
        expect(web(p, "wave-1").reason).toBe("canary has no web yet");
        expect(web(p, "rest").reason).toBe("wave-1 has no web yet");
    });

    it("reads durations", () => {
        expect([parseDuration("90s"), parseDuration("30m"), parseDuration("2h"), parseDuration("7d"), parseDuration(5)]).toEqual([90, 1800, 7200, 604_800, 5]);
        expect(() => parseDuration("2 hours")).toThrow('must be a duration such as 30m, 2h or 1d, got "2 hours"');
    });
});

// Properties over random fleets: a small seeded generator (the same cases every run).
function rng(seed: number) {
    let s = seed >>> 0;
    return () => {
        s = (s * 1664525 + 1013904223) >>> 0;
        return s / 2 ** 32;
    };
}

function randomInput(seed: number): PlanInput {
    const r = rng(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
    const digests = [D(1), D(2), D(3), D(4)];
    const n = 1 + Math.floor(r() * 4);
    const gs = Array.from({ length: n }, (_, i) => ({
        name: `g${i}`,
        sites: Array.from({ length: 1 + Math.floor(r() * 3) }, (_, j) => `o/p/g${i}s${j}`),
        ...(r() < 0.1 ? { pins: { web: pick(digests) } } : {}),
    }));
    const reports: PlanInput["reports"] = {};
    for (const g of gs) {
        for (const s of g.sites) {
            if (r() < 0.1) continue;
            const tests = r() < 0.1 ? { passed: 0, total: 1 } : ok;
            reports[s] = {
                group: r() < 0.05 ? "other" : g.name,
                images: { web: { digest: pick(digests), since: new Date(T0 - r() * 6 * HOUR).toISOString(), tests } },
                ...(r() < 0.5 ? { health: { healthy: r() < 0.8, checkedAt: new Date(T0).toISOString(), detail: "probe" } } : {}),
            };
        }
    }
    return {
        groups: gs,
        images: ["web"],
        release: { web: { digest: pick(digests), version: "x", tests: r() < 0.2 ? { passed: 0, total: 1 } : ok } },
        current: Object.fromEntries(gs.map((g) => [g.name, r() < 0.2 ? {} : { web: pick(digests) }])),
        reports,
        soakSeconds: pick([0, 3600, 7200]),
        health: { tests: true, boot: true, probe: r() < 0.3 },
        now: T0,
    };
}

describe("the wave planner's properties (500 random fleets)", () => {
    const cases = Array.from({ length: 500 }, (_, i) => randomInput(i + 1));

    it("covers every verdict (the properties below are not vacuous)", () => {
        const seen: Record<string, number> = {};
        for (const inp of cases) {
            planRollout(inp).groups.forEach((g, i) => {
                const k = `${g.images.web.status}${i > 0 ? "-later" : ""}`;
                seen[k] = (seen[k] ?? 0) + 1;
            });
        }
        for (const k of ["promote", "promote-later", "current-later", "waiting-later", "halted-later", "pinned"]) expect(seen[k] ?? 0, k).toBeGreaterThan(5);
    });

    it("never skips a group: a group moves only to what the group before it ran (or is pinned to), and only if that group's sites all run it healthy and soaked", () => {
        for (const inp of cases) {
            const plan = planRollout(inp);
            plan.groups.forEach((g, i) => {
                const p = g.images.web;
                if (p.status !== "promote" || i === 0) return;
                const before = plan.groups[i - 1].images.web;
                expect(p.digest).toBe(before.status === "pinned" ? before.digest : before.current);
                for (const s of inp.groups[i - 1].sites) {
                    const rep = inp.reports[s]!;
                    expect(rep.images.web.digest).toBe(p.digest);
                    expect(inp.now - Date.parse(rep.images.web.since!)).toBeGreaterThanOrEqual(inp.soakSeconds * 1000);
                }
            });
        }
    });

    it("never promotes past a halted group", () => {
        for (const inp of cases) {
            const statuses = planRollout(inp).groups.map((g) => g.images.web);
            const halted = statuses.findIndex((s) => s.status === "halted");
            if (halted < 0) continue;
            for (const s of statuses.slice(halted)) {
                expect(s.status === "promote").toBe(false);
                if (s.status !== "pinned") expect(s.digest).toBe(s.current);
            }
        }
    });

    it("never promotes an untested digest: the first group only to a tested release, a later one only to what the sites before it ran with passing tests", () => {
        for (const inp of cases) {
            const tested = inp.release.web!.tests!.passed === inp.release.web!.tests!.total;
            planRollout(inp).groups.forEach((g, i) => {
                const s = g.images.web;
                if (s.status !== "promote" && s.status !== "pinned") expect(s.digest).toBe(s.current);
                if (s.status !== "promote") return;
                if (i === 0) expect(tested && s.digest === inp.release.web!.digest).toBe(true);
                else for (const site of inp.groups[i - 1].sites) expect(inp.reports[site]!.images.web.tests).toEqual(ok);
            });
        }
    });

    it("is a function of its input", () => {
        for (const inp of cases.slice(0, 50)) expect(planRollout(inp)).toEqual(planRollout(structuredClone(inp)));
    });
});
