// "Reload exported": the provenance at the head of an exported file. A text export's first
// line is "# " and the JSON {beamtime, template, config, node, terminal, index}; an export of
// several data sets is a zip of such files, whose first member is read.

const REQUIRED = ["template", "config", "node", "terminal"];

/** The provenance of an exported File; an Error says what is wrong with it. */
export async function readProvenance(file) {
  const start = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const isZip = start[0] === 0x50 && start[1] === 0x4b && start[2] === 0x03 && start[3] === 0x04;
  const bytes = isZip ? await firstZipMember(file) : file.stream();
  const line = await firstLine(bytes.pipeThrough(new TextDecoderStream()));
  if (!line.startsWith("# {")) {
    throw new Error(`${file.name} is not a Beamtime reduction export: its first line holds no provenance.`);
  }
  let header;
  try {
    header = JSON.parse(line.slice(2));
  } catch {
    throw new Error(`${file.name}: the provenance on its first line is damaged.`);
  }
  const missing = REQUIRED.filter((key) => !(key in header));
  if (missing.length) throw new Error(`${file.name}: the provenance lacks ${missing.join(", ")}.`);
  return header;
}

async function firstLine(stream) {
  const reader = stream.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    reader.cancel().catch(() => {}); // the rest of the file is not needed
  }
  return text.split("\n", 1)[0];
}

/** The bytes of a zip's first member, found through the central directory (the local header
 *  may leave its sizes to a trailing descriptor). */
async function firstZipMember(file) {
  const view = async (start, length) => new DataView(await file.slice(start, start + length).arrayBuffer());
  const end = await view(file.size - 22, 22); // the end record; Beamtime's zips have no comment
  if (end.byteLength < 22 || end.getUint32(0, true) !== 0x06054b50) {
    throw new Error(`${file.name} is a damaged or unusual zip file.`);
  }
  const entry = await view(end.getUint32(16, true), 46);
  const method = entry.getUint16(10, true);
  const size = entry.getUint32(20, true);
  const local = entry.getUint32(42, true);
  const header = await view(local, 30);
  const dataStart = local + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  const data = file.slice(dataStart, dataStart + size).stream();
  if (method === 0) return data;
  if (method === 8) return data.pipeThrough(new DecompressionStream("deflate-raw"));
  throw new Error(`${file.name}: its files are compressed in a way this page cannot read.`);
}
