// Allure 3 configuration of the conformance suite's HTML report (`calls-conformance` runs
// `allure generate <reports>/allure-results --config allurerc.mjs`; by hand:
// `CALLS_API_REPORTS_DIR=reports npx allure generate reports/allure-results`).
// The categories are those the run wrote to allure-results/categories.json (conformance/reports/allure.py):
// the awesome report takes them from here, not from that file.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const reportsDir = resolve(process.env.CALLS_API_REPORTS_DIR || "reports");
const categoriesFile = join(reportsDir, "allure-results", "categories.json");
const categories = existsSync(categoriesFile) ? JSON.parse(readFileSync(categoriesFile, "utf-8")) : undefined;

// A fleet's combined report groups by target first (CALLS_API_REPORT_GROUP_BY=parentSuite,feature,story).
const groupBy = (process.env.CALLS_API_REPORT_GROUP_BY || "feature,story").split(",");
const awesome = {
  reportName: "Calls API conformance",
  groupBy,
};

export default {
  name: "Calls API conformance",
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
