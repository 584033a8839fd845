// Grade pages of https://localhost with the MDN HTTP Observatory, as its own code does.
//
//     node grade.mjs /admin/login/ [...]    prints {"/": {score, grade, tests}, ...} as JSON
//
// The package's scan() only grades "/", so every path is retrieved by the package's own
// retriever (which takes a path) and graded by its own tests and score table; "/" is also
// graded by scan() itself, and both must agree, so that this file cannot drift from it.
import { scan } from "@mdn/mdn-http-observatory";
import { ALL_TESTS } from "@mdn/mdn-http-observatory/src/constants.js";
import { MINIMUM_SCORE_FOR_EXTRA_CREDIT } from "@mdn/mdn-http-observatory/src/grader/charts.js";
import {
  getGradeForScore,
  getScoreModifier,
} from "@mdn/mdn-http-observatory/src/grader/grader.js";
import { retrieve } from "@mdn/mdn-http-observatory/src/retriever/retriever.js";

const HOST = "localhost";

async function grade(path) {
  const requests = await retrieve(HOST, { path });
  if (!requests.responses.auto) {
    throw new Error(`https://${HOST}${path} did not answer`);
  }
  // scan()'s sum: bonuses count only when the penalties leave an A.
  let uncurved = 100;
  let withBonuses = 100;
  const tests = {};
  for (const test of ALL_TESTS) {
    const output = test(requests);
    const modifier = getScoreModifier(output.result);
    withBonuses += modifier;
    uncurved += Math.min(modifier, 0);
    tests[output.constructor.name] = { result: output.result, pass: output.pass, modifier };
  }
  const { score, grade } = getGradeForScore(
    uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? withBonuses : uncurved
  );
  return { status: requests.responses.auto.status, score, grade, tests };
}

const report = {};
for (const path of ["/", ...process.argv.slice(2)]) {
  report[path] = await grade(path);
}
const official = await scan(HOST);
if (official.scan.score !== report["/"].score) {
  throw new Error(`scan() gives ${official.scan.score} for /, the path grading ${report["/"].score}`);
}
console.log(JSON.stringify(report, null, 2));
