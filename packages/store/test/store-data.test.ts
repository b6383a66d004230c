import { describeDrivers } from "./drivers.js";
import { metricsSuite, seriesLevelsSuite } from "./suites/metrics.js";
import { resultsSuite } from "./suites/results.js";

describeDrivers("data", { metrics: metricsSuite, "series levels": seriesLevelsSuite, results: resultsSuite });
