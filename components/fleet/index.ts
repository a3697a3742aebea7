// The fleet package's public face: staged rollout through site groups (the pure
// wave planner, the hub's FleetRollout, what a site follows and reports) and
// retention that knows the fleet (the pure retention plan, FleetRetention).
export { type GroupSpec, type HealthCondition, type PlanInput, parseDuration, planRollout, type RolloutPlan, type SiteReport } from "./plan";
export { FleetRetention, type FleetRetentionArgs } from "./retain";
export { type BuiltManifest, formatBytes, planRetention, referencedDigests, type RetentionPlan } from "./retention";
export { FleetRollout, type FleetRolloutArgs, followedImage, groupEntry, type KnownBuild, reportRollout, rolloutImage, siteReport } from "./rollout";
