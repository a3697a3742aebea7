// The fleet package's public face: staged rollout through site groups (the pure
// wave planner, the hub's FleetRollout, what a site follows and reports).
export { followedImage, FleetRollout, type FleetRolloutArgs, groupEntry, type KnownBuild, reportRollout, rolloutImage, siteReport } from "./rollout";
export { type GroupSpec, type HealthCondition, parseDuration, planRollout, type PlanInput, type RolloutPlan, type SiteReport } from "./plan";
