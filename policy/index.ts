// The image-factory policy pack: `npm run preview` and the pull request workflow
// run it (`pulumi preview --policy-pack policy`). The rules are in rules.ts.
import * as path from "node:path";
import { PolicyPack } from "@pulumi/policy";
import { builderVmLimits, bucketsNeverPublic, everyBucketBlocked, noPlainSecrets, releasedImagesByDigest, releasedImagesSigned, tlsExceptLoopback } from "./rules";

new PolicyPack("image-factory", {
    policies: [releasedImagesByDigest, releasedImagesSigned, bucketsNeverPublic, everyBucketBlocked, builderVmLimits, tlsExceptLoopback, noPlainSecrets(path.resolve(__dirname, ".."))],
});
