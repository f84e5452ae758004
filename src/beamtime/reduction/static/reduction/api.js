// The stateless reduction RPC (/api/reduction/…). Every request carries the whole template;
// node values live in the template's nodes, so the config override is always empty.

/** A refused request: the server's message and, for template errors, the node and field. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.error || `the server answered ${status}`);
    this.status = status;
    this.node = Number.isInteger(body.node) ? body.node : null;
    this.field = body.field || null;
  }
}

let root = "/api/reduction/";
let csrfToken = "";

export function configure(apiRoot, token) {
  root = apiRoot;
  csrfToken = token;
}

async function request(path, options = {}) {
  let response;
  // Designed refusals (a 422 for a template that cannot run) come as 200 with the status in
  // X-Problem: the page shows them; a 4xx would also show as an error in the console.
  const headers = { "X-Problems": "in-body", ...options.headers };
  try {
    response = await fetch(root + path, { credentials: "same-origin", ...options, headers });
  } catch {
    throw new ApiError(0, { error: "the server cannot be reached" });
  }
  const problem = Number(response.headers.get("X-Problem")) || (response.ok ? 0 : response.status);
  if (problem) throw new ApiError(problem, await errorBody(response));
  return response;
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return { error: `the server answered ${response.status} ${response.statusText}` };
  }
}

function post(path, body) {
  return request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
}

const json = (response) => response.json();
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A POST whose result the server may compute on its reduction pool: a 202 answer is the job
 *  doing it; poll the job (telling ``onProgress`` how it goes), then ask again: the answer
 *  then comes from the server's cache. */
async function computed(path, body, onProgress) {
  for (let round = 0; round < 3; round++) {
    const response = await post(path, body);
    if (response.status !== 202) return response;
    await finished(await response.json(), onProgress);
  }
  throw new ApiError(0, { error: "the result was computed but is no longer cached: try again" });
}

/** Wait for a job ({id, state, step, steps, module, queued_at, now}) to end; a failed one
 *  throws its refusal. */
async function finished(job, onProgress) {
  while (job.state === "queued" || job.state === "running") {
    if (onProgress) onProgress(job);
    await pause(500);
    job = await request(`jobs/${encodeURIComponent(job.id)}`).then(json);
  }
  if (job.state === "failed") throw new ApiError(422, job.error || {});
}

export const instruments = () => request("instruments").then(json);
export const sources = () => request("sources").then(json);

export function files(source, path) {
  const query = new URLSearchParams({ path });
  return request(`sources/${encodeURIComponent(source)}/files?${query}`).then(json);
}

/** What each file holds as the instrument reads it: {intent, sample, start, entries} or {error}. */
export function describeFiles(instrument, files, onProgress) {
  return computed("files/describe", { instrument, files }, onProgress).then(json);
}

/** The indices of the nodes whose results the server has cached. */
export async function cached(template) {
  return (await post("cached", { template, config: {} }).then(json)).cached;
}

/** The data sets at a node's output terminal, as {name, xlabel, ylabel, x, y, dy};
 *  ``onProgress(job)`` hears how a calculation on the server's pool goes. */
export async function calculate(template, node, terminal, onProgress) {
  const body = { template, config: {}, node, terminal };
  return (await computed("calculate", body, onProgress).then(json)).values;
}

/** An export of a node's output terminal ("text", "hdf5" or "orso") as {name, blob}; the
 *  column text gives dQ as ``resolution``, "FWHM" or "sigma". */
export async function exportFile(template, node, terminal, form, resolution = "FWHM", onProgress) {
  const body = { template, config: {}, node, terminal, export: form, resolution };
  const response = await computed("calculate", body, onProgress);
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || "reduced";
  return { name, blob: await response.blob() };
}

/** Make a node's data set (number ``index`` of its output) a data set in the fitting app, or
 *  with ``together`` all of them, the cross-sections of polarized data, as one: {dataset, url}
 *  of its fit page. */
export async function fit(template, node, terminal, index, onProgress, together = false) {
  return computed("fit", { template, config: {}, node, terminal, index, together }, onProgress).then(json);
}

/** Your data sets made from this template's outputs, each with its node and fits:
 *  {datasets: [{dataset, name, node, cross_sections, points, url, fits: [{id, state, chisq, url}]}]}. */
export async function madeFrom(template) {
  return post("fits", { template, config: {} }).then(json);
}

/** The provenance of a fitting data set (the reduction that made it), {} for an upload. */
export async function datasetProvenance(id) {
  // The fitting API sits beside this one.
  const response = await request(`../fitting/datasets/${encodeURIComponent(id)}/provenance`);
  return response.json();
}
