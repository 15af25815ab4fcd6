// Reads a JSON array of Strimzi resources on standard input; prints one line per problem
// ("Kind/name: where: what") and exits 1 when there is any. The schemas are those of Strimzi's
// CRDs (types, enums, required fields, bounds); like the API server, they let unknown fields by.
import * as strimzi from "@kubernetes-models/strimzi-kafka-operator";

const models = {};
for (const group of Object.values(strimzi)) {
  for (const version of Object.values(group)) {
    for (const model of Object.values(version)) {
      if (model?.apiVersion && model?.kind) models[`${model.apiVersion}/${model.kind}`] = model;
    }
  }
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
let problems = 0;
for (const doc of JSON.parse(input)) {
  const where = `${doc.kind}/${doc.metadata?.name}`;
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) {
    console.log(`${where}: no schema for ${doc.apiVersion}`);
    problems++;
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (error) {
    console.log(`${where}: ${error.message}`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
