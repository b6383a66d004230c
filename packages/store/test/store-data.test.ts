import { describeDrivers } from "./drivers.js";
import { metricsSuite } from "./suites/metrics.js";
import { resultsSuite } from "./suites/results.js";

describeDrivers("data", { metrics: metricsSuite, results: resultsSuite });
