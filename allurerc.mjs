// Allure 3 configuration of the conformance suite's HTML report (`calls-conformance` runs
// `allure generate <reports>/allure-results --config allurerc.mjs`; by hand:
// `CALLS_API_REPORTS_DIR=reports npx allure generate reports/allure-results`).
// The categories are those the run wrote to allure-results/categories.json (conformance/reports/allure.py):
// the awesome report takes them from here, not from that file.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const reportsDir = resolve(process.env.CALLS_API_REPORTS_DIR || "reports");
const readJson = (file) => (existsSync(join(reportsDir, file)) ? JSON.parse(readFileSync(join(reportsDir, file), "utf-8")) : undefined);
const categories = readJson(join("allure-results", "categories.json"));

// The report's name is its answer: "Calls API conformance: NOT CONFORMANT (exit 1)", or a fleet's
// verdicts and exit code. Allure 3's own header and quality gates know only the tests' statuses.
export const reportName = (verdict, matrix) => {
  const name = "Calls API conformance";
  if (verdict) return `${name}: ${verdict.verdict} (exit ${verdict.exit_code})`;
  if (!matrix) return name;
  const counts = {};
  for (const { verdict: word } of matrix.targets) counts[word] = (counts[word] || 0) + 1;
  const words = Object.entries(counts).map(([word, n]) => `${n} ${word}`).join(", ");
  return `${name}, ${matrix.targets.length} targets: ${words} (exit ${matrix.exit_code})`;
};

// A fleet's combined report groups by target first (CALLS_API_REPORT_GROUP_BY=parentSuite,feature,story).
const groupBy = (process.env.CALLS_API_REPORT_GROUP_BY || "feature,story").split(",");
const name = reportName(readJson("verdict.json"), readJson("matrix.json"));
const awesome = {
  reportName: name,
  groupBy,
};

export default {
  name,
  historyPath: join(reportsDir, "history.jsonl"),
  historyLimit: 50,
  ...(categories ? { categories } : {}),
  // The run's one-page report (verdict, failures, every requirement) or a fleet's matrix, shown
  // under "Global Attachments".
  globalAttachments: ["report.html", "matrix.html"].map((f) => join(reportsDir, f)).filter((f) => existsSync(f)),
  plugins: {
    awesome: { options: awesome },
    "single-file": { import: "@allurereport/plugin-awesome", options: { ...awesome, singleFile: true } },
  },
};
